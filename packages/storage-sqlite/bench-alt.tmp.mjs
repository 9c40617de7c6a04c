import Database from "better-sqlite3";
import { rmSync } from "node:fs";
const N = 300_000, C = 11;
const rows = [];
for (let i = 0; i < N; i++) rows.push([BigInt(i), i * 0.5, i / 3, Math.sqrt(i), i * 1.1, -i * 2.2, `name-${i}`, i % 2, "2024-01-02", "2024-01-02 03:04:05.123456", `cat${i % 10}`]);
function setup(f) { rmSync(f, { force: true }); rmSync(f + "-wal", { force: true }); const db = new Database(f); db.pragma("journal_mode=WAL"); db.pragma("synchronous=NORMAL"); db.pragma("cache_size=-64000"); db.pragma("temp_store=MEMORY"); db.pragma("mmap_size=268435456");
 db.exec(`CREATE TABLE t (${Array.from({ length: C }, (_, i) => `c${i}`).join(",")})`); return db; }
const ins = (k) => `INSERT INTO t VALUES ${Array(k).fill(`(${Array(C).fill("?").join(",")})`).join(",")}`;
function run(name, fn) { const db = setup("/tmp/sqlb/a.db"); const t = performance.now(); db.exec("BEGIN"); fn(db); db.exec("COMMIT"); const ms = performance.now() - t; console.log(name.padEnd(20), Math.round(N / ms * 1000), "rows/s"); db.close(); }
for (let rep = 0; rep < 2; rep++) {
run("single run(arr)", (db) => { const s = db.prepare(ins(1)); for (const r of rows) s.run(r); });
run("single run(...)", (db) => { const s = db.prepare(ins(1)); for (const r of rows) s.run(...r); });
for (const k of [8, 32, 100, 500, 2978]) run(`multi ${k}`, (db) => { const s = db.prepare(ins(k)); const flat = new Array(k * C); let i = 0;
  for (; i + k <= N; i += k) { let p = 0; for (let j = i; j < i + k; j++) { const r = rows[j]; for (let c = 0; c < C; c++) flat[p++] = r[c]; } s.run(flat); }
  const s1 = db.prepare(ins(1)); for (; i < N; i++) s1.run(rows[i]); });
}
