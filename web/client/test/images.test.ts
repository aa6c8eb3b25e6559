import { describe, expect, it } from "vitest";

import { FolioError, createClient, pickImageWidth } from "../src/index.js";

describe("page images", () => {
  it("picks the smallest width that fills the box at the screen's pixel ratio", () => {
    expect(pickImageWidth(72, 1)).toBe(256);
    expect(pickImageWidth(300, 1)).toBe(512);
    expect(pickImageWidth(320, 2)).toBe(1024);
    expect(pickImageWidth(1200, 2)).toBe(2048); // the largest there is
  });

  it("fetches the image with the token, and says why a page has none", async () => {
    const seen: { url: string; auth: string | null; accept: string | null }[] = [];
    const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const h = new Headers(init?.headers);
      seen.push({ url: String(input), auth: h.get("Authorization"), accept: h.get("Accept") });
      if (String(input).includes("/pages/3/")) {
        const problem = { type: "urn:folio:problem:page_not_rendered", title: "Unprocessable Entity", status: 422, code: "page_not_rendered", reason: "page_too_large", detail: "The page is too tall." };
        return new Response(JSON.stringify(problem), { status: 422, headers: { "Content-Type": "application/problem+json" } });
      }
      return new Response(new Uint8Array([0xff, 0xd8, 0xff]), { status: 200, headers: { "Content-Type": "image/jpeg" } });
    };
    const client = createClient({ baseUrl: "http://folio.test", token: "tok", fetch });
    const blob = await client.getPageImage("d1", 1, { width: 1024 });
    expect(blob.size).toBe(3);
    expect(seen[0]).toEqual({ url: "http://folio.test/v1/documents/d1/pages/1/image?width=1024", auth: "Bearer tok", accept: "image/jpeg" });
    const err = await client.getPageImage("d1", 3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FolioError);
    expect(err).toMatchObject({ status: 422, code: "page_not_rendered", reason: "page_too_large" });
    expect(seen[1]?.url).toBe("http://folio.test/v1/documents/d1/pages/3/image?width=256");
  });
});
