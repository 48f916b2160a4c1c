// Typeset the math of every page with the vendored KaTeX (no network request).
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: COURSE_MATH_DELIMITERS,
    // The hidden copy of each code cell (for the copy button) must stay plain text.
    ignoredClasses: ["clipboard-copy-txt"],
    throwOnError: false,
  });
});
