/**
 * The camera and microphone for a call: `getUserMedia` (the browser's permission prompt comes with it, from the click
 * that started or joined the call), and what each refusal means for the person, in words they can act on.
 */

export class MediaAccessError extends Error {
  override name = 'MediaAccessError'
}

/** What a call asks of the microphone and the camera. */
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true } as const
const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } } as const

/**
 * What is asked: the microphone always, the camera for a video call — those the person chose before if given (as
 * `ideal`: one unplugged since gives way to another rather than failing the call).
 */
export async function openLocalMedia(params: {
  video: boolean
  microphone?: string | undefined
  camera?: string | undefined
}): Promise<MediaStream> {
  if (navigator.mediaDevices?.getUserMedia === undefined) {
    throw new MediaAccessError(
      'This browser gives the page no camera or microphone: calls need a secure (https) page in a current browser.',
    )
  }
  try {
    const { microphone, camera } = params
    return await navigator.mediaDevices.getUserMedia({
      audio: microphone === undefined ? AUDIO : { ...AUDIO, deviceId: microphone },
      video: params.video ? (camera === undefined ? VIDEO : { ...VIDEO, deviceId: camera }) : false,
    })
  } catch (err) {
    throw mediaAccessError(err, params.video)
  }
}

/**
 * The camera: for turning it on during a call that started without it (`deviceId`: the one chosen before, if it is
 * still there), or, `exact`, the one the person just picked — another would not be what they picked.
 */
export async function openCamera(deviceId?: string, exact = false): Promise<MediaStreamTrack> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: deviceId === undefined ? VIDEO : { ...VIDEO, deviceId: exact ? { exact: deviceId } : deviceId },
    })
    const track = stream.getVideoTracks()[0]
    if (track === undefined) throw new MediaAccessError('The browser gave no camera.')
    return track
  } catch (err) {
    throw err instanceof MediaAccessError ? err : mediaAccessError(err, true)
  }
}

/** The microphone `deviceId`, which the person chose during a call. */
export async function openMicrophone(deviceId: string): Promise<MediaStreamTrack> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { ...AUDIO, deviceId: { exact: deviceId } } })
    const track = stream.getAudioTracks()[0]
    if (track === undefined) throw new MediaAccessError('The browser gave no microphone.')
    return track
  } catch (err) {
    throw err instanceof MediaAccessError ? err : mediaAccessError(err, false)
  }
}

/** A camera or microphone the person can choose: the browser's id and name for it. */
export interface MediaDeviceChoice {
  deviceId: string
  label: string
}

/**
 * The microphones and cameras this browser offers. Their names come only once the site may use them (in a call,
 * after the prompt): before, a device is named by its kind and place in the list.
 */
export async function listMediaDevices(): Promise<{ microphones: MediaDeviceChoice[]; cameras: MediaDeviceChoice[] }> {
  const devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? []
  const of = (kind: MediaDeviceKind, name: string): MediaDeviceChoice[] =>
    devices
      .filter((d) => d.kind === kind && d.deviceId !== '')
      .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${name} ${i + 1}` }))
  return { microphones: of('audioinput', 'Microphone'), cameras: of('videoinput', 'Camera') }
}

/**
 * A screen, window or tab to share (`getDisplayMedia`: the browser's picker, from the click). Resolves `undefined` when
 * the person closed the picker without choosing: nothing to say then.
 */
export async function openScreen(): Promise<MediaStreamTrack | undefined> {
  if (navigator.mediaDevices?.getDisplayMedia === undefined) {
    throw new MediaAccessError('This browser cannot share a screen from a page (a phone browser cannot).')
  }
  let stream: MediaStream
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: { ideal: 15 }, width: { max: 1920 }, height: { max: 1080 } },
      audio: false,
    })
  } catch (err) {
    const name = (err as { name?: string } | undefined)?.name
    if (name === 'NotAllowedError' || name === 'AbortError') return undefined
    throw new MediaAccessError(`The screen could not be shared (${String(err)}).`)
  }
  const track = stream.getVideoTracks()[0]
  if (track === undefined) throw new MediaAccessError('The browser shared no screen.')
  // Text and slides: keep the detail rather than the motion when the bandwidth runs short.
  track.contentHint = 'detail'
  return track
}

/** The person's sentence for a `getUserMedia` failure. */
export function mediaAccessError(err: unknown, video: boolean): MediaAccessError {
  const devices = video ? 'camera and microphone' : 'microphone'
  const name = (err as { name?: string } | undefined)?.name
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new MediaAccessError(
        `The browser refused the ${devices}: allow ${video ? 'them' : 'it'} for this site (the icon in the address bar), then start the call again.`,
      )
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new MediaAccessError(
        video
          ? 'No camera or microphone was found: plug one in, or start an audio call.'
          : 'No microphone was found: plug one in and start the call again.',
      )
    case 'NotReadableError':
    case 'AbortError':
      return new MediaAccessError(
        `The ${devices} could not be opened: another app may be using ${video ? 'them' : 'it'}. Close it and try again.`,
      )
    default:
      return new MediaAccessError(`The ${devices} could not be opened (${String(err)}).`)
  }
}
