export { StorageComparisonTester, type ComparisonOptions, type ComparisonResult, type ComparisonSide, type ComparisonSummary, type SideOutcome } from "./tester.js";
export { SCENARIOS, type Scenario, type ScenarioContext } from "./scenarios.js";
export { firstDifference, normalizeRows, normalizeValue, sameResult } from "./normalize.js";
export { formatConsoleReport, formatJsonReport, formatMarkdownReport } from "./report.js";
