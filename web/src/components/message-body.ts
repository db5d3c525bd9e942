import { splitMentions } from '@securechat/sdk/mentions'
import { html, type TemplateResult } from 'lit'
import { type Block, type Inline, parseMarkdown } from './markdown.ts'

/**
 * A message's text as DOM, from the tree `markdown.ts` parses: every piece of text is a lit text binding and every
 * link's address an attribute binding, so nothing a sender writes is ever parsed as HTML (Trusted Types stay
 * enforced with no policy for it). Templates are written without whitespace between tags: a message's
 * `textContent` is what its sender typed, less the Markdown marks.
 */

/** Trees of recently shown texts: a re-render of 1,000 messages must not parse them all again. */
const parsed = new Map<string, Block[]>()
const PARSED_CACHE_ENTRIES = 2_000

export function messageBody(text: string): TemplateResult {
  let blocks = parsed.get(text)
  if (blocks === undefined) {
    blocks = parseMarkdown(text)
    if (parsed.size >= PARSED_CACHE_ENTRIES) parsed.delete(parsed.keys().next().value!)
    parsed.set(text, blocks)
  }
  return html`${blocks.map(block)}`
}

function block(node: Block): TemplateResult {
  switch (node.type) {
    case 'paragraph':
      return html`<p>${node.children.map(inline)}</p>`
    case 'code':
      return html`<pre><code>${node.text}</code></pre>`
    case 'quote':
      return html`<blockquote>${node.children.map(block)}</blockquote>`
    case 'list':
      return node.ordered
        ? html`<ol start=${node.start}>${node.items.map(item)}</ol>`
        : html`<ul>${node.items.map(item)}</ul>`
  }
}

function item(children: Inline[]): TemplateResult {
  return html`<li>${children.map(inline)}</li>`
}

function inline(node: Inline): TemplateResult | string {
  switch (node.type) {
    case 'text':
      return textWithMentions(node.text)
    case 'break':
      return html`<br />`
    case 'code':
      return html`<code>${node.text}</code>`
    case 'em':
      return html`<em>${node.children.map(inline)}</em>`
    case 'strong':
      return html`<strong>${node.children.map(inline)}</strong>`
    case 'link':
      return html`<a href=${node.href} target="_blank" rel="noopener noreferrer">${node.children.map(inline)}</a>`
  }
}

/** A text's `@0x…` mentions set apart (`.mention`), as written: the text reads the same, the address is whole. */
function textWithMentions(text: string): TemplateResult | string {
  if (!text.includes('@')) return text
  const parts = splitMentions(text)
  if (parts.length === 1 && typeof parts[0] === 'string') return text
  return html`${parts.map((part) =>
    typeof part === 'string' ? part : html`<span class="mention" title=${part.address}>${part.mention}</span>`,
  )}`
}
