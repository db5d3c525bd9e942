import { z } from 'zod'

// zod compiles object parsers with `new Function` unless told not to; the CSP forbids eval
// (no 'unsafe-eval', Trusted Types), so the probe alone would log a violation. Imported first.
z.config({ jitless: true })
