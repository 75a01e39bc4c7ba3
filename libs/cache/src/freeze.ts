// Values in L1 are shared by every caller in the process; frozen, a caller's change throws instead of
// silently changing what every later reader gets.
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
