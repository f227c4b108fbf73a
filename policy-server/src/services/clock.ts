/** Where services get the time from; tests pass a clock they can move (token expiry, sessions). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
