// An SVG face: the mouth follows OVR visemes, brows, eyes and mouth corners follow
// the Emotion event. Shapes are blended every frame, so visemes never snap.

const SVG = "http://www.w3.org/2000/svg";

// Mouth shape per viseme: open (jaw), wide (lip corners apart), round (lips pursed).
const SHAPES = {
  VISEME_SIL: [0.0, 0.5, 0.0],
  VISEME_PP: [0.0, 0.45, 0.1],
  VISEME_FF: [0.12, 0.6, 0.0],
  VISEME_TH: [0.22, 0.55, 0.0],
  VISEME_DD: [0.3, 0.55, 0.0],
  VISEME_KK: [0.35, 0.5, 0.1],
  VISEME_CH: [0.3, 0.35, 0.5],
  VISEME_SS: [0.15, 0.8, 0.0],
  VISEME_NN: [0.25, 0.55, 0.05],
  VISEME_RR: [0.3, 0.4, 0.5],
  VISEME_AA: [1.0, 0.6, 0.0],
  VISEME_E: [0.6, 0.8, 0.0],
  VISEME_IH: [0.45, 0.7, 0.0],
  VISEME_OH: [0.7, 0.3, 0.8],
  VISEME_OU: [0.4, 0.2, 1.0],
};

// Expression per EmotionCategory: brow tilt (+ = inner ends up), brow raise, eye
// openness, smile (+ corners up), skin tint.
const EXPRESSIONS = {
  neutral: { tilt: 0, raise: 0, eyes: 1, smile: 0.05, tint: "#e8b98f" },
  joy: { tilt: 0.1, raise: 0.4, eyes: 0.8, smile: 1, tint: "#f0bd92" },
  sadness: { tilt: 1, raise: 0.2, eyes: 0.7, smile: -0.7, tint: "#d9b393" },
  anger: { tilt: -1, raise: -0.5, eyes: 0.85, smile: -0.5, tint: "#eaa07f" },
  fear: { tilt: 0.9, raise: 1, eyes: 1.3, smile: -0.4, tint: "#e2c3a6" },
  surprise: { tilt: 0.2, raise: 1.2, eyes: 1.35, smile: 0, tint: "#ebbd95" },
  disgust: { tilt: -0.6, raise: -0.2, eyes: 0.7, smile: -0.6, tint: "#d8b58a" },
};

export function emotionName(category) {
  // proto3 JSON omits the zero value: no category means NEUTRAL.
  return (category || "EMOTION_CATEGORY_NEUTRAL").replace("EMOTION_CATEGORY_", "").toLowerCase();
}

function el(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

export class Face {
  constructor(container) {
    const svg = el("svg", { viewBox: "0 0 200 220", class: "face", role: "img" });
    svg.setAttribute("aria-label", "the character's face");
    this.head = el("ellipse", { cx: 100, cy: 112, rx: 78, ry: 96, class: "head" }, svg);
    el("path", { d: "M22 96 Q30 10 100 14 Q170 10 178 96 Q160 46 100 44 Q40 46 22 96Z", class: "hair" }, svg);
    this.eyes = [70, 130].map((x) => {
      const g = el("g", { class: "eye" }, svg);
      el("ellipse", { cx: x, cy: 100, rx: 13, ry: 9, class: "eye-white" }, g);
      el("circle", { cx: x, cy: 100, r: 5.5, class: "pupil" }, g);
      return { g, x };
    });
    this.brows = [70, 130].map((x, i) => ({
      line: el("path", { d: "", class: "brow" }, svg),
      x,
      side: i === 0 ? -1 : 1,
    }));
    el("path", { d: "M100 108 Q94 134 100 140 Q106 142 110 138", class: "nose" }, svg);
    this.cheeks = [60, 140].map((x) => el("circle", { cx: x, cy: 146, r: 11, class: "cheek" }, svg));
    this.mouth = el("path", { d: "", class: "mouth", id: "mouth" }, svg);
    container.appendChild(svg);
    this.svg = svg;
    this.shape = [0, 0.5, 0]; // current open, wide, round
    this.expr = { ...EXPRESSIONS.neutral };
    this.target = EXPRESSIONS.neutral;
    this.intensity = 0.3;
    this.emotion = "neutral";
    this.blinkAt = performance.now() + 2500;
    this.last = performance.now();
    this.draw(0);
  }

  setEmotion(category, intensity) {
    this.emotion = emotionName(category);
    this.target = EXPRESSIONS[this.emotion] || EXPRESSIONS.neutral;
    this.intensity = Math.max(0.25, Math.min(1, intensity || 0));
    this.svg.dataset.emotion = this.emotion;
  }

  /** Advance one frame towards the viseme now playing; returns the mouth openness. */
  update(visemeId, weight) {
    const now = performance.now();
    const dt = Math.min(0.1, (now - this.last) / 1000);
    this.last = now;
    const shape = SHAPES[visemeId] || SHAPES.VISEME_SIL;
    const w = visemeId ? Math.max(0, Math.min(1, weight)) : 0;
    // ~40 ms time constant: the blend between visemes that reads as speech.
    const k = 1 - Math.exp(-dt / 0.04);
    const goal = [shape[0] * w, 0.5 + (shape[1] - 0.5) * w, shape[2] * w];
    for (let i = 0; i < 3; i++) this.shape[i] += (goal[i] - this.shape[i]) * k;
    // Expressions change slower than lips.
    const ke = 1 - Math.exp(-dt / 0.25);
    for (const key of ["tilt", "raise", "eyes", "smile"]) {
      const goalE = key === "eyes" ? 1 + (this.target.eyes - 1) * this.intensity * 1.5
        : this.target[key] * Math.min(1, this.intensity * 1.5);
      this.expr[key] += (goalE - this.expr[key]) * ke;
    }
    this.expr.tint = this.target.tint;
    this.draw(now);
    return this.shape[0];
  }

  draw(now) {
    const [open, wide, round] = this.shape;
    const { tilt, raise, eyes, smile } = this.expr;
    const half = 24 + 14 * (wide - 0.5) - 12 * round; // half the mouth's width
    const cy = 168;
    const corner = cy - smile * 7;
    const top = cy - 2 - open * 6 + smile * 3;
    const bottom = cy + 2 + open * 30 + smile * 4;
    this.mouth.setAttribute(
      "d",
      `M${100 - half} ${corner} Q100 ${top} ${100 + half} ${corner} Q100 ${bottom} ${100 - half} ${corner}Z`,
    );
    this.mouth.dataset.open = open.toFixed(3);
    for (const b of this.brows) {
      const y = 80 - raise * 6;
      const inner = y - tilt * 6;
      const outer = y + tilt * 3;
      const xi = b.x - b.side * 12;
      const xo = b.x + b.side * 14;
      b.line.setAttribute("d", `M${xi} ${inner} Q${b.x} ${Math.min(inner, outer) - 4} ${xo} ${outer}`);
    }
    const blinking = now > this.blinkAt && now < this.blinkAt + 120;
    if (now > this.blinkAt + 120) this.blinkAt = now + 2500 + Math.random() * 3000;
    const sy = blinking ? 0.1 : eyes;
    for (const e of this.eyes) {
      e.g.setAttribute("transform", `translate(0 100) scale(1 ${sy.toFixed(3)}) translate(0 -100)`);
    }
    this.head.style.fill = this.expr.tint;
    for (const c of this.cheeks) c.style.opacity = String(Math.max(0, smile) * 0.5);
  }
}
