import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseNonceTemplate, renderWithNonce } from './html-nonce.ts'

const N = 'AAAAAAAAAAAAAAAAAAAAAA=='

/** A self-contained piece of HTML and what it becomes with the nonce `N` (`{N}` marks the attribute). */
const FRAGMENTS: Array<{ html: string; expected: string }> = [
  { html: '<!doctype html>', expected: '<!doctype html>' },
  {
    html: '<script type="module" src="/assets/app.js"></script>',
    expected: '<script{N} type="module" src="/assets/app.js"></script>',
  },
  { html: '<SCRIPT>let a = 1</SCRIPT >', expected: '<SCRIPT{N}>let a = 1</SCRIPT >' },
  {
    html: '<link rel="modulepreload" href="/assets/a.js">',
    expected: '<link{N} rel="modulepreload" href="/assets/a.js">',
  },
  {
    html: "<link rel='stylesheet  ModulePreload' href=x>",
    expected: "<link{N} rel='stylesheet  ModulePreload' href=x>",
  },
  { html: '<link\nrel=modulepreload\nhref=/a.js/>', expected: '<link{N}\nrel=modulepreload\nhref=/a.js/>' },
  { html: '<link rel="stylesheet" href="/assets/a.css">', expected: '<link rel="stylesheet" href="/assets/a.css">' },
  { html: '<link href="modulepreload">', expected: '<link href="modulepreload">' },
  // The first `rel` counts, as in browsers.
  { html: '<link rel=icon rel=modulepreload>', expected: '<link rel=icon rel=modulepreload>' },
  // An existing nonce (Vite's `html.cspNonce` placeholder) is replaced.
  {
    html: '<script nonce="PLACEHOLDER" src=/a.js></script>',
    expected: '<script{N}  src=/a.js></script>',
  },
  { html: '<meta property="csp-nonce" nonce=PLACEHOLDER>', expected: '<meta{N} property="csp-nonce" >' },
  {
    html: '<meta name="viewport" content="width=device-width">',
    expected: '<meta name="viewport" content="width=device-width">',
  },
  // Text that only looks like a tag.
  { html: '<!-- <script src=x></script> -->', expected: '<!-- <script src=x></script> -->' },
  { html: '<!--><b>x</b>', expected: '<!--><b>x</b>' },
  { html: '<!---><link rel=modulepreload>', expected: '<!---><link{N} rel=modulepreload>' },
  { html: '<script-->x', expected: '<script-->x' },
  {
    html: '<div title="<script>" data-x=\'<link rel=modulepreload>\'>',
    expected: '<div title="<script>" data-x=\'<link rel=modulepreload>\'>',
  },
  { html: '<textarea><script>x</script></textarea>', expected: '<textarea><script>x</script></textarea>' },
  { html: '<title>a <script> b</title>', expected: '<title>a <script> b</title>' },
  {
    html: '<style>a::after { content: "<script>" }</style>',
    expected: '<style>a::after { content: "<script>" }</style>',
  },
  { html: '<noscript><script src=x></script></noscript>', expected: '<noscript><script src=x></script></noscript>' },
  {
    html: '<script>const s = "<script src=x>"; // <link rel=modulepreload>\n</script>',
    expected: '<script{N}>const s = "<script src=x>"; // <link rel=modulepreload>\n</script>',
  },
  { html: '1 < 2 and a <b> tag, &lt;script&gt;', expected: '1 < 2 and a <b> tag, &lt;script&gt;' },
  { html: '<? <script> ?>', expected: '<? <script> ?>' },
  { html: '</div title="<script>">', expected: '</div title="<script>">' },
  { html: '<scripts>x</scripts>', expected: '<scripts>x</scripts>' },
  {
    html: '<template><script src=t.js></script></template>',
    expected: '<template><script{N} src=t.js></script></template>',
  },
]

const render = (html: string): string => renderWithNonce(parseNonceTemplate(html), N)
const expected = (text: string): string => text.replaceAll('{N}', ` nonce="${N}"`)

describe('parseNonceTemplate', () => {
  for (const { html, expected: out } of FRAGMENTS) {
    it(`behavior: ${JSON.stringify(html)}`, () => {
      expect(render(html)).toBe(expected(out))
    })
  }

  it('property: any sequence of fragments gets the nonce exactly where each fragment does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }),
        fc.constantFrom('', '\n', ' text '),
        (fragments, glue) => {
          const html = fragments.map((f) => f.html).join(glue)
          const template = parseNonceTemplate(html)
          expect(renderWithNonce(template, N)).toBe(expected(fragments.map((f) => f.expected).join(glue)))
          expect(template.count).toBe(fragments.reduce((n, f) => n + f.expected.split('{N}').length - 1, 0))
        },
      ),
    )
  })

  it('property: any text survives unchanged apart from the nonces', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            '<',
            '>',
            '/',
            '!',
            '-',
            '"',
            "'",
            '=',
            ' ',
            's',
            'script',
            'link',
            'rel=modulepreload',
            'x',
          ),
        }),
        (html) => {
          expect(render(html).replaceAll(` nonce="${N}"`, '')).toBe(html)
        },
      ),
    )
  })

  it('behavior: a page that ends inside a tag, a comment or a script', () => {
    expect(render('<script src=x')).toBe(`<script nonce="${N}" src=x`)
    expect(render('<!-- <script>')).toBe('<!-- <script>')
    expect(render('<script>let a = "</scrip')).toBe(`<script nonce="${N}">let a = "</scrip`)
    expect(render('<link rel="modulepreload')).toBe(`<link nonce="${N}" rel="modulepreload`)
  })

  it('error: a nonce that is not base64', () => {
    expect(() => renderWithNonce(parseNonceTemplate('<script></script>'), '"><img src=x>')).toThrow(RangeError)
  })
})
