import { supportAgent } from "./llm.js";

await supportAgent({ hardened: false });
