import { runFleetBench } from "./bench/fleet.js";
await runFleetBench((t) => console.log(t), false, true);
process.exit(0);
