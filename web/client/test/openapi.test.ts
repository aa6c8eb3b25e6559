import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

// @ts-expect-error: a plain ES module without types
import { generate, outURL } from "../scripts/openapi.mjs";

describe("src/openapi.ts", () => {
  it("is what api/openapi.json generates (run `npm run gen` in web/client after changing the API)", async () => {
    const fresh = (await generate()) as string;
    expect(await readFile(outURL as URL, "utf8")).toBe(fresh);
  });
});
