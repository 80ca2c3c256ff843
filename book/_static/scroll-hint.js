// Wide tables scroll sideways inside their own box (the page itself never does). Phones hide scroll bars,
// so a table that is wider than its box gets a one-line hint above it; the hint goes away when the window
// is widened enough for the whole table.
(function () {
  const BOXES = ".pst-scrollable-table-container, div.cell_output table, div.output table";
  function update() {
    const wide = new Map();  // the outermost box of each table -> whether it, or the table in it, scrolls
    document.querySelectorAll(BOXES).forEach((el) => {
      const box = el.parentElement.closest(".pst-scrollable-table-container") || el;
      wide.set(box, wide.get(box) || el.scrollWidth > el.clientWidth + 1);
    });
    wide.forEach((wide, box) => {
      let hint = box.previousElementSibling;
      const has = hint && hint.classList.contains("scroll-hint");
      if (wide && !has) {
        hint = document.createElement("p");
        hint.className = "scroll-hint";
        hint.setAttribute("aria-hidden", "true");
        hint.textContent = "Scroll the table sideways for more columns →";
        box.parentNode.insertBefore(hint, box);
      } else if (!wide && has) {
        hint.remove();
      }
    });
  }
  window.addEventListener("load", update);
  window.addEventListener("resize", update);
})();
