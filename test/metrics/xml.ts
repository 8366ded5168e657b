/**
 * A minimal, strict XML parser for tests: elements, attributes (quoted), text, the five predefined
 * entities and numeric references, comments and the XML declaration. Throws on anything not well-formed
 * (unbalanced tags, bad attribute syntax, stray '<' or '&', duplicate attributes, trailing content).
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*/;

function decodeEntities(s: string, where: number): string {
  return s.replace(/&([^;]*);|&/g, (m, ent: string | undefined) => {
    if (ent === undefined) throw new Error(`bare '&' near offset ${where}`);
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[ent] !== undefined) return named[ent]!;
    const num = /^#(x[0-9a-f]+|\d+)$/i.exec(ent);
    if (num) return String.fromCodePoint(num[1]![0] === 'x' || num[1]![0] === 'X' ? parseInt(num[1]!.slice(1), 16) : Number(num[1]));
    throw new Error(`unknown entity '${m}' near offset ${where}`);
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const skipWs = (): void => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const skipMisc = (): void => {
    for (;;) {
      skipWs();
      if (src.startsWith('<?', i)) {
        const e = src.indexOf('?>', i);
        if (e < 0) throw new Error('unterminated processing instruction');
        i = e + 2;
      } else if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i);
        if (e < 0) throw new Error('unterminated comment');
        i = e + 3;
      } else return;
    }
  };
  const parseElement = (): XmlElement => {
    if (src[i] !== '<') throw new Error(`expected '<' at offset ${i}`);
    i++;
    const m = NAME.exec(src.slice(i));
    if (!m) throw new Error(`bad element name at offset ${i}`);
    const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
    i += m[0].length;
    for (;;) {
      const before = i;
      skipWs();
      if (src.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      if (i === before) throw new Error(`expected whitespace before attribute at offset ${i}`);
      const a = NAME.exec(src.slice(i));
      if (!a) throw new Error(`bad attribute name at offset ${i}`);
      i += a[0].length;
      skipWs();
      if (src[i] !== '=') throw new Error(`expected '=' at offset ${i}`);
      i++;
      skipWs();
      const q = src[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute value at offset ${i}`);
      const end = src.indexOf(q, i + 1);
      if (end < 0) throw new Error('unterminated attribute value');
      const raw = src.slice(i + 1, end);
      if (raw.includes('<')) throw new Error(`'<' in attribute value at offset ${i}`);
      if (a[0] in el.attrs) throw new Error(`duplicate attribute ${a[0]}`);
      el.attrs[a[0]] = decodeEntities(raw, i);
      i = end + 1;
    }
    for (;;) {
      const lt = src.indexOf('<', i);
      if (lt < 0) throw new Error(`unclosed element <${el.name}>`);
      el.text += decodeEntities(src.slice(i, lt), i);
      i = lt;
      if (src.startsWith('</', i)) {
        i += 2;
        const c = NAME.exec(src.slice(i));
        if (!c || c[0] !== el.name) throw new Error(`mismatched closing tag at offset ${i}: expected </${el.name}>`);
        i += c[0].length;
        skipWs();
        if (src[i] !== '>') throw new Error(`expected '>' at offset ${i}`);
        i++;
        return el;
      }
      if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i);
        if (e < 0) throw new Error('unterminated comment');
        i = e + 3;
        continue;
      }
      el.children.push(parseElement());
    }
  };
  skipMisc();
  const root = parseElement();
  skipMisc();
  if (i !== src.length) throw new Error(`content after the root element at offset ${i}`);
  return root;
}
