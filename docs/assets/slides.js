// The lesson slide decks (site/slides/*.slides.html): math, reveal.js, slides that fit.
// Math is typeset by the vendored KaTeX before reveal.js measures the slides.
renderMathInElement(document.querySelector(".reveal .slides"), {
  delimiters: COURSE_MATH_DELIMITERS,
  throwOnError: false,
});

const SLIDE_WIDTH = 1280; // 16:9, the shape of a projector
const SLIDE_HEIGHT = 720;
const MIN_ZOOM = 0.5; // below this a slide is unreadable: it scrolls instead
const CORNER_HEIGHT = 40; // px at the bottom that figures leave free

// Figures are drawn for the lesson page's column; on a slide they take the height the rest of
// the slide leaves them (up to the width of their box), so that their text reads from afar.
function sizeFigures(section) {
  const figures = Array.from(section.querySelectorAll(".jp-OutputArea-output img"))
    .filter((img) => !img.closest(".animation"));
  for (const img of figures) {
    if (!img.complete || !img.naturalWidth) {
      img.addEventListener("load", () => { fit(section, true); Reveal.layout(); }, { once: true });
      return;
    }
    img.style.width = `${Math.min(img.naturalWidth, img.parentElement.clientWidth)}px`;
  }
  const figuresHeight = figures.reduce((sum, img) => sum + img.offsetHeight, 0);
  if (!figuresHeight) return;
  const room = SLIDE_HEIGHT - CORNER_HEIGHT; // the slide number and the controls sit in the bottom corners
  const scale = Math.max(0.5, (figuresHeight + room - section.scrollHeight) / figuresHeight);
  for (const img of figures) {
    img.style.width = `${Math.min(img.offsetWidth * scale, img.parentElement.clientWidth)}px`;
  }
}

// A slide taller than the screen is zoomed out until it fits, down to MIN_ZOOM.
function fit(section, again = false) {
  if (!section || section.querySelector("section") || (section.dataset.fitted && !again)) return;
  section.dataset.fitted = "true";
  section.style.zoom = "";
  section.classList.remove("deck-scroll");
  sizeFigures(section);
  const height = section.scrollHeight;
  if (height > SLIDE_HEIGHT) {
    const zoom = SLIDE_HEIGHT / height;
    section.style.zoom = Math.max(MIN_ZOOM, zoom);
    if (zoom < MIN_ZOOM) section.classList.add("deck-scroll");
  }
}
// Unfolding a long code cell ("Code (N lines)") fits its slide again.
document.querySelectorAll(".reveal details.deck-code").forEach((details) => {
  details.addEventListener("toggle", () => {
    fit(details.closest("section"), true);
    Reveal.layout();
  });
});

// The "Lesson page" link sits in a corner of the first slide only: elsewhere it would cover text.
function showHomeLink() {
  document.querySelector(".deck-home").hidden = !Reveal.isFirstSlide();
}

Reveal.initialize({
  width: SLIDE_WIDTH,
  height: SLIDE_HEIGHT,
  margin: 0.03,
  center: false,
  hash: true,
  controls: true,
  progress: true,
  slideNumber: "c/t",
  transition: "none",
  pdfMaxPagesPerSlide: 1,
  plugins: [RevealNotes],
}).then(() => {
  fit(Reveal.getCurrentSlide());
  Reveal.layout();
  showHomeLink();
  document.documentElement.dataset.deckReady = "true"; // for the browser tests
});
Reveal.on("slidechanged", (event) => {
  fit(event.currentSlide);
  Reveal.layout();
  showHomeLink();
});
// Printing (?print-pdf): every slide is laid out on its own page at once.
Reveal.on("pdf-ready", () => {
  document.querySelectorAll(".reveal .slides section").forEach(fit);
  document.documentElement.dataset.pdfReady = "true"; // for scripts/slides_pdf.py
});
