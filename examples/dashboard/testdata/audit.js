// A basic accessibility audit of the page, run by the browser test: it
// returns the list of what is wrong, empty when nothing is.
//   - every visible text has a WCAG AA contrast with its background
//     (4.5:1, 3:1 for large text), backgrounds composited up the tree;
//   - every form control has a label; every link and button has a name;
//   - the html element has a lang; one h1; heading levels do not skip;
//   - ids are unique and aria-describedby names existing elements;
//   - images have an alt.
(() => {
  const failures = [];
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const blend = (fg, bg) => ({
    r: fg.r * fg.a + bg.r * (1 - fg.a),
    g: fg.g * fg.a + bg.g * (1 - fg.a),
    b: fg.b * fg.a + bg.b * (1 - fg.a),
    a: 1,
  });
  const luminance = ({ r, g, b }) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.backgroundImage && style.backgroundImage !== "none") return null; // a gradient: not measured
      const c = parse(style.backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a >= 1) break;
      }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const layer of layers.reverse()) bg = blend(layer, bg);
    return bg;
  };

  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest("script, style, [hidden], .sr-only, .skip")) continue;
    if (!el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || Number(style.opacity) === 0) continue;
    const bg = background(el);
    if (!bg) continue;
    const fg = blend(parse(style.color), bg);
    const l1 = luminance(fg);
    const l2 = luminance(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      failures.push(`contrast ${ratio.toFixed(2)}:1 for "${text.slice(0, 40)}" in <${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}>`);
    }
  }

  for (const c of document.querySelectorAll("input, select, textarea")) {
    if (c.type === "hidden") continue;
    if (!(c.labels && c.labels.length) && !c.getAttribute("aria-label")) failures.push(`control "${c.name}" has no label`);
  }
  for (const c of document.querySelectorAll("a, button")) {
    if (!c.textContent.trim() && !c.getAttribute("aria-label")) failures.push(`<${c.tagName.toLowerCase()}> has no name`);
  }
  if (!document.documentElement.lang) failures.push("<html> has no lang");
  const levels = Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"), (h) => Number(h.tagName[1]));
  const h1s = levels.filter((l) => l === 1).length;
  if (h1s !== 1) failures.push(`${h1s} h1 elements`);
  for (let i = 1; i < levels.length; i++) {
    if (levels[i] > levels[i - 1] + 1) failures.push(`heading level skips from h${levels[i - 1]} to h${levels[i]}`);
  }
  const ids = new Set();
  for (const e of document.querySelectorAll("[id]")) {
    if (ids.has(e.id)) failures.push(`duplicate id "${e.id}"`);
    ids.add(e.id);
  }
  for (const e of document.querySelectorAll("[aria-describedby]")) {
    for (const id of e.getAttribute("aria-describedby").split(/\s+/)) {
      if (!document.getElementById(id)) failures.push(`aria-describedby names a missing "${id}"`);
    }
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) failures.push("an image has no alt");
  }
  return failures;
})()
