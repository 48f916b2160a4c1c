// The math delimiters KaTeX looks for, shared by the site's pages (math.js) and the slide decks
// (slides.js), so that what typesets on a lesson page also typesets on its slides.
// Markdown pages: pymdownx.arithmatex writes \( \) and \[ \]. Lesson pages: the notebook's $ and $$.
var COURSE_MATH_DELIMITERS = [
  { left: "$$", right: "$$", display: true },
  { left: "$", right: "$", display: false },
  { left: "\\(", right: "\\)", display: false },
  { left: "\\[", right: "\\]", display: true },
  { left: "\\begin{equation}", right: "\\end{equation}", display: true },
  { left: "\\begin{equation*}", right: "\\end{equation*}", display: true },
  { left: "\\begin{align}", right: "\\end{align}", display: true },
  { left: "\\begin{align*}", right: "\\end{align*}", display: true },
];
