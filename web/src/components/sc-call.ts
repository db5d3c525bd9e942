import { consume } from '@lit/context'
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { customElement, state } from 'lit/decorators.js'
import { repeat } from 'lit/directives/repeat.js'
import type { CallParticipant } from '../calls/call-mesh.ts'
import type { MediaDeviceChoice } from '../calls/local-media.ts'
import type { Calls } from '../state/calls.ts'
import { ChangeController, callsContext, conversationsContext } from '../state/context.ts'
import type { Conversations } from '../state/conversations.ts'
import { baseStyles, shortAddress } from './styles.ts'

/** An audio level (0–1, RFC 6464's linear form from getStats) above which a participant shows as speaking. */
const SPEAKING_LEVEL = 0.02

/** The devices to choose from in a call, and those in use (`Calls.mediaDevices`). */
interface DeviceChoices {
  microphones: MediaDeviceChoice[]
  cameras: MediaDeviceChoice[]
  microphone: string | undefined
  camera: string | undefined
}

/**
 * The call this tab is in (docs/web-app.md, Calls): a grid of tiles — this device's camera and each other device's
 * video (or shared screen), or its address when its camera is off — with who is speaking, who is muted, who shares a
 * screen, the call's duration, and the controls: mute, camera, share screen, which microphone and camera (where
 * there is more than one), leave. Renders nothing outside a call.
 */
@customElement('sc-call')
export class ScCall extends LitElement {
  static override styles = [
    baseStyles,
    css`
      :host {
        display: block;
      }
      section {
        border-bottom: 1px solid var(--sc-border);
        padding: 0.5rem 1rem;
        display: grid;
        gap: 0.5rem;
        background: var(--sc-panel);
      }
      .bar {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
      }
      .bar .title {
        font-weight: 600;
        margin-right: auto;
      }
      .grid {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr));
        gap: 0.5rem;
        max-height: 40dvh;
        overflow: auto;
      }
      .tile {
        position: relative;
        aspect-ratio: 16 / 9;
        background: #111827;
        color: #fff;
        border-radius: 8px;
        overflow: hidden;
        display: grid;
        place-items: center;
        outline: 3px solid transparent;
      }
      .tile.speaking {
        outline-color: #22c55e;
      }
      .tile video {
        width: 100%;
        height: 100%;
        object-fit: cover;
      }
      .tile video.off {
        display: none;
      }
      .tile video.screen {
        object-fit: contain;
      }
      .tile .name {
        position: absolute;
        left: 0.25rem;
        bottom: 0.25rem;
        background: rgb(0 0 0 / 0.6);
        padding: 0 0.375rem;
        border-radius: 4px;
        font-size: 0.875rem;
      }
      .tile .avatar {
        font-size: 1.25rem;
      }
      select {
        max-width: 12rem;
      }
      button[aria-pressed='true'] {
        background: var(--sc-danger);
        border-color: var(--sc-danger);
        color: #fff;
      }
    `,
  ]

  @consume({ context: callsContext, subscribe: true })
  @state()
  calls: Calls | undefined

  @consume({ context: conversationsContext, subscribe: true })
  @state()
  conversations: Conversations | undefined

  @state() private now = Date.now()
  @state() private devices: DeviceChoices | undefined

  readonly #changes = new ChangeController<Calls>(this, 'calls:changed')
  #clock: ReturnType<typeof setInterval> | undefined
  /**
   * The tracks the call sent when {@link devices} was read: read again for a new call or a track changed (a device
   * chosen, the camera first turned on), and when a device is plugged in or out.
   */
  #devicesOf: string | undefined
  readonly #onDeviceChange = (): void => void this.#readDevices()

  override connectedCallback(): void {
    super.connectedCallback()
    this.#clock = setInterval(() => {
      if (this.calls?.active !== undefined) this.now = Date.now()
    }, 1_000)
    navigator.mediaDevices?.addEventListener?.('devicechange', this.#onDeviceChange)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    clearInterval(this.#clock)
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.#onDeviceChange)
  }

  async #readDevices(): Promise<void> {
    const calls = this.calls
    this.#devicesOf = tracksOf(calls)
    this.devices = calls?.active === undefined ? undefined : await calls.mediaDevices().catch(() => undefined)
  }

  #choose(kind: 'microphone' | 'camera', deviceId: string): void {
    const calls = this.calls
    if (kind === 'microphone') void calls?.chooseMicrophone(deviceId)
    else void calls?.chooseCamera(deviceId)
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('calls')) this.#changes.target = this.calls
  }

  protected override updated(): void {
    // srcObject is a property lit cannot bind declaratively without a directive: set it on each tile's video.
    const active = this.calls?.active
    if (tracksOf(this.calls) !== this.#devicesOf) void this.#readDevices()
    if (active === undefined) return
    for (const video of this.renderRoot.querySelectorAll<HTMLVideoElement>('video[data-peer]')) {
      const peer = video.dataset.peer
      const stream =
        peer === 'self'
          ? (active.mesh.screenStream ?? active.mesh.localStream)
          : active.mesh.participants.find((p) => p.peerId === peer)?.stream
      if (stream !== undefined && video.srcObject !== stream) video.srcObject = stream
    }
  }

  override render() {
    const calls = this.calls
    const active = calls?.active
    if (calls === undefined || active === undefined) return nothing
    const mesh = active.mesh
    const view = this.conversations?.get(active.conversation)
    const where = view === undefined ? 'a call' : view.kind === 'dm' ? shortAddress(view.id) : `# ${view.name}`
    const participants = mesh.participants
    return html`<section aria-label="Call" data-testid="call">
      <div class="bar">
        <span class="title">
          <button class="secondary" @click=${() => this.#open(active.conversation)}>Call in ${where}</button>
          <span role="timer" data-testid="call-duration" aria-label="Call duration">${duration(this.now - mesh.startedAtMs)}</span>
          · <span data-testid="call-count">${participants.length + 1} in the call</span>
          ${
            mesh.sfuRelay === undefined
              ? nothing
              : html`· <span
                  data-testid="call-via-relay"
                  title="Media goes through the relay's forwarding unit, still end-to-end encrypted: it forwards frames it cannot open."
                >via relay</span>`
          }
        </span>
        <button
          class="secondary"
          aria-pressed=${mesh.muted ? 'true' : 'false'}
          @click=${() => calls.setMuted(!mesh.muted)}
        >${mesh.muted ? 'Unmute' : 'Mute'}</button>
        <button
          class="secondary"
          aria-pressed=${mesh.camera ? 'false' : 'true'}
          @click=${() => void calls.setCamera(!mesh.camera)}
        >${mesh.camera ? 'Camera off' : 'Camera on'}</button>
        ${
          canShareScreen()
            ? html`<button
                class="secondary"
                aria-pressed=${mesh.sharing ? 'true' : 'false'}
                @click=${() => void calls.setSharing(!mesh.sharing)}
              >${mesh.sharing ? 'Stop sharing' : 'Share screen'}</button>`
            : nothing
        }
        ${this.#devicePicker('microphone', 'Microphone', this.devices?.microphones, this.devices?.microphone)}
        ${
          mesh.localStream.getVideoTracks().length > 0
            ? this.#devicePicker('camera', 'Camera', this.devices?.cameras, this.devices?.camera)
            : nothing
        }
        <button @click=${() => void calls.leave()}>Leave call</button>
      </div>
      ${
        calls.problem !== undefined && calls.problem.conversation === active.conversation
          ? html`<p role="alert" class="error">${calls.problem.text}</p>`
          : nothing
      }
      <div class="grid" role="list" aria-label="Participants">
        ${this.#tile('self', 'You', mesh.camera, mesh.sharing, mesh.muted, mesh.localAudioLevel, true)}
        ${repeat(
          participants,
          (p) => p.peerId,
          (p) => this.#participant(p),
        )}
      </div>
    </section>`
  }

  /** A choice of microphone or camera, where there is more than one: the one in use selected. */
  #devicePicker(
    kind: 'microphone' | 'camera',
    label: string,
    choices: MediaDeviceChoice[] | undefined,
    inUse: string | undefined,
  ) {
    if (choices === undefined || choices.length < 2) return nothing
    return html`<select
      aria-label=${label}
      data-testid="call-${kind}"
      @change=${(event: Event) => this.#choose(kind, (event.target as HTMLSelectElement).value)}
    >
      ${choices.map(
        (choice) =>
          html`<option value=${choice.deviceId} ?selected=${choice.deviceId === inUse}>${choice.label}</option>`,
      )}
    </select>`
  }

  #participant(p: CallParticipant) {
    const connecting = p.connection !== 'connected'
    const label = `${shortAddress(p.address)}${connecting ? ' (connecting…)' : ''}`
    return this.#tile(p.peerId, label, p.media.video, p.media.screen, p.muted, p.audioLevel, false)
  }

  #tile(peer: string, name: string, camera: boolean, screen: boolean, muted: boolean, level: number, self: boolean) {
    const speaking = !muted && level > SPEAKING_LEVEL
    // A shared screen takes the camera's place in the picture.
    const video = camera || screen
    const what = screen ? (self ? ', sharing your screen' : ', sharing the screen') : ''
    return html`<div
      class="tile ${speaking ? 'speaking' : ''}"
      role="listitem"
      data-testid="call-tile"
      data-peer=${peer}
      data-muted=${muted ? 'true' : 'false'}
      data-video=${video ? 'on' : 'off'}
      data-screen=${screen ? 'true' : 'false'}
      data-speaking=${speaking ? 'true' : 'false'}
      aria-label="${name}${muted ? ', muted' : ''}${speaking ? ', speaking' : ''}${what}${video ? '' : ', camera off'}"
    >
      <video data-peer=${peer} class="${video ? '' : 'off'} ${screen ? 'screen' : ''}" autoplay playsinline .muted=${self}></video>
      ${video ? nothing : html`<span class="avatar" aria-hidden="true">${name.slice(0, 6)}</span>`}
      <span class="name">${name}${muted ? ' 🔇' : ''}${screen ? ' 🖥 screen' : ''}</span>
    </div>`
  }

  #open(conversation: string): void {
    this.dispatchEvent(
      new CustomEvent('conversation-selected', { detail: conversation, bubbles: true, composed: true }),
    )
  }
}

/** What the call in `calls` sends from this device, as its tracks' ids (undefined outside a call). */
function tracksOf(calls: Calls | undefined): string | undefined {
  const stream = calls?.active?.mesh.localStream
  return stream
    ?.getTracks()
    .map((track) => track.id)
    .join(' ')
}

/** Whether this browser can share a screen from a page (desktop browsers; not phones). */
function canShareScreen(): boolean {
  return typeof navigator.mediaDevices?.getDisplayMedia === 'function'
}

/** `m:ss`, or `h:mm:ss` from an hour. */
export function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const s = total % 60
  const m = Math.floor(total / 60) % 60
  const h = Math.floor(total / 3600)
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m)
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`
}
