/** Helia's own `createHeliaLight`: a bundle keeps only what is called (Node skips the index: `helia-light.node.ts`). */
export { createHeliaLight } from 'helia'
