'use strict';

/**
 * An async iterable over every item of a list, fetching pages lazily by
 * following the cursor: `for await (const key of client.apiKeys.list())`.
 * `fetchPage(cursor)` resolves to one page, `{ data, nextCursor }`.
 */
class PageIterator {
  #fetchPage;
  #cursor;

  constructor(fetchPage, cursor) {
    this.#fetchPage = fetchPage;
    this.#cursor = cursor;
  }

  async *[Symbol.asyncIterator]() {
    for await (const page of this.pages()) {
      for (const item of page.data) yield item;
    }
  }

  /** Pages instead of items: `for await (const page of client.apiKeys.list().pages())`. */
  async *pages() {
    let cursor = this.#cursor;
    for (;;) {
      const page = await this.#fetchPage(cursor);
      yield page;
      if (!page.nextCursor || page.data.length === 0 || page.nextCursor === cursor) return;
      cursor = page.nextCursor;
    }
  }

  /** Collects items into an array, stopping after `max` (default: all). */
  async toArray({ max = Infinity } = {}) {
    const items = [];
    if (max <= 0) return items;
    for await (const item of this) {
      items.push(item);
      if (items.length >= max) break;
    }
    return items;
  }
}

module.exports = { PageIterator };
