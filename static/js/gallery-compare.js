// The before/after sliders of a creation's page, public (/c/<slug>/) and in the admin.
import { enhanceAll } from "./shared/compare.js";

enhanceAll();
