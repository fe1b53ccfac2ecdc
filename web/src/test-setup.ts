// Vitest setup: jsdom cleanup between component tests.
import { afterEach } from "vitest";
import { cleanup } from "@testing-library/react";

afterEach(() => cleanup());
