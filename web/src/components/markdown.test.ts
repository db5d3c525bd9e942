import { describe, expect, it } from 'vitest'
import { type Block, type Inline, MAX_DEPTH, parseMarkdown, webLink } from './markdown.ts'

const text = (t: string): Inline => ({ type: 'text', text: t })
const paragraph = (...children: Inline[]): Block => ({ type: 'paragraph', children })

describe('markdown: the subset a message may use, as a tree (never HTML)', () => {
  it('behavior: plain text is one paragraph; each line break typed stays one', () => {
    expect(parseMarkdown('hello')).toEqual([paragraph(text('hello'))])
    expect(parseMarkdown('one\ntwo')).toEqual([paragraph(text('one'), { type: 'break' }, text('two'))])
    expect(parseMarkdown('one\n\ntwo')).toEqual([paragraph(text('one')), paragraph(text('two'))])
  })

  it('behavior: emphasis, strong, inline code, and snake_case left alone', () => {
    expect(parseMarkdown('*a* **b** _c_ __d__ `e*f*`')).toEqual([
      paragraph(
        { type: 'em', children: [text('a')] },
        text(' '),
        { type: 'strong', children: [text('b')] },
        text(' '),
        { type: 'em', children: [text('c')] },
        text(' '),
        { type: 'strong', children: [text('d')] },
        text(' '),
        { type: 'code', text: 'e*f*' },
      ),
    ])
    expect(parseMarkdown('snake_case_name and 2 * 3 * 4')).toEqual([paragraph(text('snake_case_name and 2 * 3 * 4'))])
    expect(parseMarkdown('**bold *and em* inside**')).toEqual([
      paragraph({
        type: 'strong',
        children: [text('bold '), { type: 'em', children: [text('and em')] }, text(' inside')],
      }),
    ])
    expect(parseMarkdown('\\*not em\\*')).toEqual([paragraph(text('*not em*'))])
  })

  it('behavior: fenced code keeps its text as written; quotes and lists are blocks', () => {
    expect(parseMarkdown('```ts\nconst a = **1**\n<b>x</b>\n```\nafter')).toEqual([
      { type: 'code', text: 'const a = **1**\n<b>x</b>' },
      paragraph(text('after')),
    ])
    expect(parseMarkdown('> quoted *text*\n> more\nreply')).toEqual([
      {
        type: 'quote',
        children: [
          paragraph(text('quoted '), { type: 'em', children: [text('text')] }, { type: 'break' }, text('more')),
        ],
      },
      paragraph(text('reply')),
    ])
    expect(parseMarkdown('- one\n- two\n  continued\n\n3. three\n4. four')).toEqual([
      {
        type: 'list',
        ordered: false,
        start: 1,
        items: [[text('one')], [text('two'), { type: 'break' }, text('continued')]],
      },
      { type: 'list', ordered: true, start: 3, items: [[text('three')], [text('four')]] },
    ])
  })

  it('behavior: links to http(s) only; anything else stays text', () => {
    expect(parseMarkdown('[docs](https://example.org/a?b=1) and https://example.org/x.')).toEqual([
      paragraph(
        { type: 'link', href: 'https://example.org/a?b=1', children: [text('docs')] },
        text(' and '),
        { type: 'link', href: 'https://example.org/x', children: [text('https://example.org/x')] },
        text('.'),
      ),
    ])
    expect(parseMarkdown('(see https://en.wikipedia.org/wiki/Rust_(language))')[0]).toEqual(
      paragraph(
        text('(see '),
        {
          type: 'link',
          href: 'https://en.wikipedia.org/wiki/Rust_(language)',
          children: [text('https://en.wikipedia.org/wiki/Rust_(language)')],
        },
        text(')'),
      ),
    )
    for (const hostile of [
      '[x](javascript:alert(1))',
      '[x](JAVASCRIPT:alert(1))',
      '[x](data:text/html,<script>alert(1)</script>)',
      '[x](//evil.example)',
      '[x](vbscript:msgbox)',
      'javascript:alert(1)',
      '<a href="javascript:alert(1)">x</a>',
      '<img src=x onerror=alert(1)>',
    ]) {
      const links = JSON.stringify(parseMarkdown(hostile)).match(/"link"/g)
      expect({ hostile, links }).toEqual({ hostile, links: null })
    }
    expect(webLink('https://example.org')).toBe('https://example.org/')
    expect(webLink('http://[::1')).toBeUndefined()
  })

  it('behavior: HTML is text, as written', () => {
    const written = '<script>alert(1)</script><b onclick="x()">bold</b>'
    expect(parseMarkdown(written)).toEqual([paragraph(text(written))])
  })

  it('behavior: a hostile 16 KiB message gives a tree no deeper than MAX_DEPTH', () => {
    const depth = (node: unknown): number =>
      typeof node !== 'object' || node === null
        ? 0
        : Math.max(0, ...Object.values(node).map((value) => depth(value))) + ('type' in node ? 1 : 0)
    for (const hostile of ['> '.repeat(8_000), '*'.repeat(16_000), '**_'.repeat(5_000), '[*'.repeat(8_000)]) {
      expect(depth(parseMarkdown(hostile))).toBeLessThanOrEqual(2 * (MAX_DEPTH + 1))
    }
    expect(parseMarkdown('*a '.repeat(5_000))).toEqual([paragraph(text('*a '.repeat(5_000)))])
  })
})
