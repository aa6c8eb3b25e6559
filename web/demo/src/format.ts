import type { Document } from "@folio/client";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** The document's stage in words, for its row. */
export function stageOf(d: Document): string {
  switch (d.status) {
    case "scanning":
      return "Checking for malware";
    case "quarantined":
      return d.scan?.found ? `Quarantined: ${d.scan.found}` : "Quarantined";
    case "queued":
      return d.pages_done > 0 ? "Waiting to resume" : "Waiting in line";
    case "parsing":
      if (d.stage === "reading" || !d.page_count) return "Reading the file";
      return d.stage === "rendering" ? "Drawing pages" : "Extracting text";
    case "done":
      return "Ready";
    case "failed":
      return "Failed";
    case "canceled":
      return "Canceled";
  }
}

export function formatDate(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? s : new Date(t).toLocaleString();
}

/** Where a parse stands, in words: pages extracted, then pages drawn. */
export function pagesWords(d: Document): string {
  if (!d.page_count) return "starting";
  if (d.stage === "rendering") return `page ${d.pages_rendered} of ${d.page_count} drawn`;
  return `page ${d.pages_done} of ${d.page_count}`;
}
