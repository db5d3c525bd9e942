import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildEnvelope, ChildEvent, CommandMap, CommandOf, RequestEnvelope, ResultOf } from './protocol.ts'

/** How long a child may take to stop gracefully before it is killed. */
const STOP_TIMEOUT_MS = 5_000

export class ChildFailedError extends Error {
  override name = 'ChildFailedError'
}

/**
 * A benchmark child process spoken to over IPC: typed requests with bounded waits, and
 * events (buffered, so one that arrives before anyone waits is not lost).
 */
export class Child<M extends CommandMap> {
  readonly name: string
  readonly process: ChildProcess
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>()
  readonly #seen = new Set<string>()
  readonly #waiters = new Map<string, Array<() => void>>()
  #nextId = 1
  #exit: Error | undefined

  constructor(name: string, process: ChildProcess) {
    this.name = name
    this.process = process
    process.on('message', (envelope: ChildEnvelope) => this.#onMessage(envelope))
    // A send to a child that just died fails here rather than crashing the parent.
    process.on('error', (err) => {
      for (const { reject } of this.#pending.values()) reject(new ChildFailedError(`${name}: ${err.message}`))
      this.#pending.clear()
    })
    process.on('exit', (code, signal) => {
      this.#exit = new ChildFailedError(`${name} exited (code ${code}, signal ${signal})`)
      for (const { reject } of this.#pending.values()) reject(this.#exit)
      this.#pending.clear()
    })
  }

  get exited(): boolean {
    return this.process.exitCode !== null || this.process.signalCode !== null
  }

  request<C extends CommandOf<M>>(command: C, options: { timeoutMs: number }): Promise<ResultOf<M, C>> {
    if (this.#exit !== undefined) return Promise.reject(this.#exit)
    const id = this.#nextId++
    return new Promise<ResultOf<M, C>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new ChildFailedError(`${this.name}: no answer to ${command.type} within ${options.timeoutMs} ms`))
      }, options.timeoutMs)
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value as ResultOf<M, C>)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      })
      const envelope: RequestEnvelope = { id, command }
      this.process.send(envelope)
    })
  }

  /** Resolves when the child has emitted `event`; rejects on timeout or when the child dies. */
  waitFor(event: ChildEvent, options: { timeoutMs: number }): Promise<void> {
    const key = `${event.type}:${event.phase}`
    if (this.#seen.has(key)) return Promise.resolve()
    if (this.#exit !== undefined) return Promise.reject(this.#exit)
    return new Promise<void>((resolve, reject) => {
      const onExit = (): void => {
        clearTimeout(timer)
        reject(this.#exit)
      }
      const timer = setTimeout(() => {
        this.process.off('exit', onExit)
        reject(new ChildFailedError(`${this.name}: no ${key} within ${options.timeoutMs} ms`))
      }, options.timeoutMs)
      const waiters = this.#waiters.get(key) ?? []
      waiters.push(() => {
        clearTimeout(timer)
        this.process.off('exit', onExit)
        resolve()
      })
      this.#waiters.set(key, waiters)
      this.process.once('exit', onExit)
    })
  }

  /** Asks the child to stop and waits for it to exit; kills it if it does not in time. */
  async stop(): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()))
    try {
      await this.request({ type: 'stop' } as CommandOf<M>, { timeoutMs: STOP_TIMEOUT_MS })
    } catch {
      this.kill()
    }
    const timer = setTimeout(() => this.kill(), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }

  kill(): void {
    if (!this.exited) this.process.kill('SIGKILL')
  }

  #onMessage(envelope: ChildEnvelope): void {
    if (envelope.kind === 'event') {
      const key = `${envelope.event.type}:${envelope.event.phase}`
      this.#seen.add(key)
      for (const wake of this.#waiters.get(key) ?? []) wake()
      this.#waiters.delete(key)
      return
    }
    const pending = this.#pending.get(envelope.id)
    if (pending === undefined) return
    this.#pending.delete(envelope.id)
    if (envelope.ok) pending.resolve(envelope.result)
    else pending.reject(new ChildFailedError(`${this.name}: ${envelope.error}`))
  }
}

/**
 * Every child process of a run. `stopAll()` in a `finally` ends them; the process-exit hook
 * kills whatever is left if the parent dies another way (children also exit when their IPC
 * channel closes).
 */
export class ChildGroup {
  readonly #children: Array<Child<CommandMap>> = []
  readonly #onExit = (): void => {
    for (const child of this.#children) child.kill()
  }

  constructor() {
    process.on('exit', this.#onExit)
  }

  /** `execArgv`: further Node flags for the child (`--expose-gc`, a larger heap). */
  spawn<M extends CommandMap>(
    name: string,
    module: string,
    options: { cpuProfileDir?: string; execArgv?: string[] } = {},
  ): Child<M> {
    const path = fileURLToPath(new URL(module, import.meta.url))
    const execArgv = [
      ...(options.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`]),
      ...(options.execArgv ?? []),
    ]
    const child = new Child<M>(
      name,
      fork(path, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' }),
    )
    this.#children.push(child as unknown as Child<CommandMap>)
    return child
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.stop()))
    process.off('exit', this.#onExit)
  }

  killAll(): void {
    this.#onExit()
  }
}
