// Runs tasks one after another in call order, whatever each one's outcome. Appends go through
// it, so concurrent `append` calls chain onto each other instead of onto the same head.
export type SerialQueue = <T>(task: () => Promise<T> | T) => Promise<T>;

export function createSerialQueue(): SerialQueue {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task);
    tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };
}
