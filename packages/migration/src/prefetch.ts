/**
 * Iterate an async source one item ahead: the next item is already being produced while the consumer
 * works on the current one (reading the next batch while the previous one is written).
 */
export async function* prefetch<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let pending = iterator.next();
  try {
    while (true) {
      const current = await pending;
      if (current.done) return;
      pending = iterator.next();
      // An error in the read-ahead surfaces at the next await, not as an unhandled rejection.
      pending.catch(() => undefined);
      yield current.value;
    }
  } finally {
    await iterator.return?.();
  }
}
