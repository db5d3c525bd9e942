import './strict-csp.ts'
import './components/sc-app.ts'
import { registerServiceWorker } from './pwa.ts'

void registerServiceWorker()
