import './strict-csp.ts'
import './components/sc-app.ts'
import { registerServiceWorker } from './pwa.ts'

// The worker precaches the whole app, which on a cold load would compete with the page for the
// CPU while the signed-in part compiles: register it once that part has defined its views.
void customElements.whenDefined('sc-chat-view').then(registerServiceWorker)
