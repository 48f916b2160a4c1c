// Typeset the math of every page with the vendored KaTeX (no network request).
// Markdown pages: pymdownx.arithmatex writes \( \) and \[ \]. Lesson pages: the notebook's $ and $$.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\begin{equation}", right: "\\end{equation}", display: true },
      { left: "\\begin{equation*}", right: "\\end{equation*}", display: true },
      { left: "\\begin{align}", right: "\\end{align}", display: true },
      { left: "\\begin{align*}", right: "\\end{align*}", display: true },
    ],
    // The hidden copy of each code cell (for the copy button) must stay plain text.
    ignoredClasses: ["clipboard-copy-txt"],
    throwOnError: false,
  });
});
