/**
 * What React Flow needs of the DOM and jsdom lacks (https://reactflow.dev/learn/advanced-use/testing):
 * ResizeObserver, DOMMatrixReadOnly, element sizes, SVG boxes. Install in a test file's
 * `beforeAll`; the returned function puts everything back.
 */
export function mockReactFlowDom(): () => void {
  // React Flow reads some through `window`, which jsdom keeps apart from `globalThis`.
  const targets = [globalThis, window] as unknown as Record<string, unknown>[];
  const saved = targets.map((t) => ({ ResizeObserver: t.ResizeObserver, DOMMatrixReadOnly: t.DOMMatrixReadOnly }));
  const proto = HTMLElement.prototype;
  const offsets = {
    offsetHeight: Object.getOwnPropertyDescriptor(proto, 'offsetHeight'),
    offsetWidth: Object.getOwnPropertyDescriptor(proto, 'offsetWidth'),
  };
  const svgProto = SVGElement.prototype as unknown as Record<string, unknown>;
  const getBBox = svgProto.getBBox;

  const ResizeObserver = class {
    constructor(private cb: (entries: { target: Element }[], o: unknown) => void) {}
    // Later, as a browser does: React Flow learns its DOM node in an effect that runs after the nodes'.
    observe(target: Element) {
      setTimeout(() => this.cb([{ target }], this), 0);
    }
    unobserve() {}
    disconnect() {}
  };
  const DOMMatrixReadOnly = class {
    m22: number;
    constructor(transform?: string) {
      const scale = transform?.match(/scale\(([\d.]+)\)/)?.[1];
      this.m22 = scale !== undefined ? Number(scale) : 1;
    }
  };
  for (const t of targets) Object.assign(t, { ResizeObserver, DOMMatrixReadOnly });
  Object.defineProperties(proto, {
    offsetHeight: { configurable: true, get() { return parseFloat((this as HTMLElement).style.height) || 60; } },
    offsetWidth: { configurable: true, get() { return parseFloat((this as HTMLElement).style.width) || 230; } },
  });
  svgProto.getBBox = () => ({ x: 0, y: 0, width: 40, height: 12 });

  return () => {
    targets.forEach((t, i) => Object.assign(t, saved[i]));
    for (const [k, d] of Object.entries(offsets)) {
      if (d) Object.defineProperty(proto, k, d);
      else delete (proto as unknown as Record<string, unknown>)[k];
    }
    svgProto.getBBox = getBBox;
  };
}
