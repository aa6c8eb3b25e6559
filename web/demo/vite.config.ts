import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const client = (p: string) => fileURLToPath(new URL(`../client/src/${p}`, import.meta.url));

// `npm run dev` serves the app on :5173 and proxies the API to `folio dev` on :8080;
// `npm run build` writes dist/, which `folio dev` serves at /.
export default defineConfig({
  plugins: [react()],
  resolve: {
    // The client from source: no build step between a change and the app.
    alias: [
      { find: /^@folio\/client$/, replacement: client("index.ts") },
      { find: /^@folio\/client\/react$/, replacement: client("react.ts") },
    ],
    dedupe: ["react", "react-dom"],
  },
  server: {
    proxy: { "/v1": { target: "http://localhost:8080", ws: true } },
  },
  build: {
    sourcemap: true,
  },
});
