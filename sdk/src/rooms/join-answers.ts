import {
  JOIN_ANSWER_MAX_MS,
  JOIN_ANSWER_MIN_MS,
  JOIN_ANSWER_MIN_WINDOW_MS,
  JOIN_ANSWER_MS_PER_MEMBER,
} from '../constants.ts'

/**
 * How long a member of a room of `members` spaces its answers to newcomers (docs/architecture.md, Presence and
 * membership): its presence goes to the whole topic and one answers every newcomer, its keys record seals to many;
 * answered once per newcomer, fifty members joining together cost the relay the square of fifty records forwarded
 * to fifty members. It grows with the room (more members, more joins at once) up to {@link JOIN_ANSWER_MAX_MS}.
 */
export function joinAnswerWindowMs(members: number): number {
  return Math.min(JOIN_ANSWER_MAX_MS, Math.max(JOIN_ANSWER_MIN_WINDOW_MS, members * JOIN_ANSWER_MS_PER_MEMBER))
}

/**
 * A wait drawn within the window: jittered so that the members of a room do not all answer at once, at least
 * {@link JOIN_ANSWER_MIN_MS} so that joins that arrive together are answered together.
 */
export function joinAnswerDelayMs(members: number, random: () => number = Math.random): number {
  const windowMs = joinAnswerWindowMs(members)
  return Math.min(windowMs, JOIN_ANSWER_MIN_MS + Math.floor(random() * (windowMs - JOIN_ANSWER_MIN_MS)))
}
