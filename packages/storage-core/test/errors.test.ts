import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";
import { describe, expect, test } from "vitest";
import { ErrorCodes, MdmError, fileSystemError, isDiskFullErrno, isMdmError, redactSecrets, toMdmError } from "../src/index.js";
import { coreDist } from "./helpers/core-dist.js";

type CoreErrors = { MdmError: typeof MdmError; isMdmError: typeof isMdmError; ErrorCodes: typeof ErrorCodes };

describe("MdmError", () => {
  test("carries a stable code, details and the cause", () => {
    const cause = new Error("SQLITE_BUSY");
    const error = new MdmError(ErrorCodes.LOCKED, "locked", { cause, details: { path: "/x" } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("MdmError");
    expect(error.code).toBe("MDM_LOCKED");
    expect(error.details).toEqual({ path: "/x" });
    expect(error.cause).toBe(cause);
    expect(new MdmError(ErrorCodes.CLOSED, "closed").cause).toBeUndefined();
    expect(new MdmError(ErrorCodes.CLOSED, "closed").details).toEqual({});
    expect(JSON.parse(JSON.stringify(error))).toEqual({ name: "MdmError", code: "MDM_LOCKED", message: "locked", details: { path: "/x" } });
  });

  test("every code is MDM_-prefixed and unique", () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^MDM_[A-Z_]+$/);
    for (const [key, code] of Object.entries(ErrorCodes)) expect(code).toBe(`MDM_${key}`);
  });
});

describe("isMdmError brand check", () => {
  test("true for MdmErrors (with or without a code filter), false for look-alikes", () => {
    const error = new MdmError(ErrorCodes.TABLE_EXISTS, "x");
    expect(isMdmError(error)).toBe(true);
    expect(isMdmError(error, ErrorCodes.TABLE_EXISTS)).toBe(true);
    expect(isMdmError(error, ErrorCodes.TABLE_NOT_FOUND)).toBe(false);
    expect(isMdmError(Object.assign(new Error("x"), { code: "MDM_TABLE_EXISTS" }))).toBe(false);
    expect(isMdmError({ code: "MDM_TABLE_EXISTS", message: "x" })).toBe(false);
    expect(isMdmError(null)).toBe(false);
    expect(isMdmError("MDM_TABLE_EXISTS")).toBe(false);
  });

  test("works across the ESM and CJS builds of the package, both ways", async () => {
    const built = await coreDist();
    const cjs = createRequire(import.meta.url)(built.cjs) as CoreErrors;
    const esm = (await import(pathToFileURL(built.esm).href)) as CoreErrors;
    expect(cjs.MdmError).not.toBe(esm.MdmError); // really two copies
    expect(cjs.MdmError).not.toBe(MdmError);
    const fromCjs = new cjs.MdmError(cjs.ErrorCodes.LOCKED, "from cjs");
    const fromEsm = new esm.MdmError(esm.ErrorCodes.LOCKED, "from esm");
    const fromSrc = new MdmError(ErrorCodes.LOCKED, "from src");
    for (const check of [cjs.isMdmError, esm.isMdmError, isMdmError]) {
      for (const error of [fromCjs, fromEsm, fromSrc]) {
        expect(check(error)).toBe(true);
        expect(check(error, "MDM_LOCKED")).toBe(true);
        expect(check(error, "MDM_CLOSED")).toBe(false);
      }
    }
    // instanceof does not cross copies: that is why the brand exists
    expect(fromCjs instanceof esm.MdmError).toBe(false);
  });
});

describe("redactSecrets", () => {
  test("removes the password of connection URLs, keeping user, host and database", () => {
    expect(redactSecrets("connect postgresql://alice:s3cret@db.example.org:5432/mdm failed")).toBe(
      "connect postgresql://alice:***@db.example.org:5432/mdm failed",
    );
    expect(redactSecrets("postgres://:onlypw@host/db")).toBe("postgres://:***@host/db");
    expect(redactSecrets("no secret postgresql://alice@host/db")).toBe("no secret postgresql://alice@host/db");
  });

  test("E6: a raw password with URL metacharacters does not survive", () => {
    const out = redactSecrets("bad URL postgresql://bob:p@ss:w/rd#%?@db:5432/x");
    expect(out).not.toContain("p@ss");
    expect(out).not.toContain("w/rd");
    expect(out).toContain("db:5432/x");
  });

  test("removes password=, passwd=, pwd=, sslpassword= and sslkey= parameters (quoted too)", () => {
    expect(redactSecrets("host=h password=hunter2 dbname=x")).toBe("host=h password=*** dbname=x");
    expect(redactSecrets("postgresql://h/db?sslmode=require&password=hunter2&x=1")).toBe("postgresql://h/db?sslmode=require&password=***&x=1");
    expect(redactSecrets("PWD=abc;")).not.toContain("abc");
    expect(redactSecrets("passwd=abc")).toBe("passwd=***");
    expect(redactSecrets("sslpassword=abc sslkey=/home/u/.key")).toBe("sslpassword=*** sslkey=***");
    const quoted = redactSecrets("host=h password='hunter 2' dbname=x");
    expect(quoted).not.toContain("hunter");
    expect(quoted).not.toContain(" 2'");
    expect(quoted).toContain("dbname=x");
  });

  test("removes every given secret wherever it appears; empty secrets are ignored", () => {
    expect(redactSecrets("auth failed for s3cret (s3cret)", ["s3cret"])).toBe("auth failed for *** (***)");
    expect(redactSecrets("nothing to hide", ["", null, undefined])).toBe("nothing to hide");
  });
});

describe("toMdmError", () => {
  test("wraps a foreign error with a code and context, keeping the cause", () => {
    const cause = new Error("ECONNREFUSED 127.0.0.1:1");
    const error = toMdmError(cause, ErrorCodes.CONNECTION_FAILED, "connect to 127.0.0.1:1", { details: { host: "127.0.0.1" } });
    expect(isMdmError(error, ErrorCodes.CONNECTION_FAILED)).toBe(true);
    expect(error.message).toBe("connect to 127.0.0.1:1: ECONNREFUSED 127.0.0.1:1");
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ host: "127.0.0.1" });
  });

  test("a raw ENOSPC or EDQUOT is MDM_DISK_FULL whatever code the caller expected", () => {
    for (const code of ["ENOSPC", "EDQUOT"]) {
      const cause = Object.assign(new Error(`${code}: no space left on device, write`), { code, syscall: "write" });
      expect(isDiskFullErrno(cause)).toBe(true);
      expect(toMdmError(cause, ErrorCodes.INTERNAL, "publish").code).toBe(ErrorCodes.DISK_FULL);
      expect(fileSystemError(cause, "/x", "write").code).toBe(ErrorCodes.DISK_FULL);
    }
    expect(toMdmError(Object.assign(new Error("nope"), { code: "EACCES" }), ErrorCodes.INTERNAL, "x").code).toBe(ErrorCodes.INTERNAL);
  });

  test("an MdmError passes through unchanged; a non-Error is stringified", () => {
    const original = new MdmError(ErrorCodes.LOCKED, "busy");
    expect(toMdmError(original, ErrorCodes.INTERNAL, "x")).toBe(original);
    expect(toMdmError("plain text", ErrorCodes.INTERNAL, "ctx").message).toBe("ctx: plain text");
  });

  test("a cause that carried the secret is dropped, and the secret is nowhere in the result", () => {
    const secret = "Sentinel-Pa55w0rd";
    const cause = new Error(`password authentication failed: postgresql://u:${secret}@h/db password=${secret}`);
    const error = toMdmError(cause, ErrorCodes.AUTHENTICATION_FAILED, "connect", { secrets: [secret] });
    expect(error.cause).toBeUndefined();
    expect(error.message).not.toContain(secret);
    expect(inspect(error, { depth: 10 })).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
    expect(String(error.stack)).not.toContain(secret);
  });

  test("a URL password is dropped even when the caller did not list the secret", () => {
    const cause = new Error("invalid URL postgresql://u:topsecret@h/db");
    const error = toMdmError(cause, ErrorCodes.CONNECTION_FAILED, "connect");
    expect(error.cause).toBeUndefined();
    expect(inspect(error, { depth: 10 })).not.toContain("topsecret");
  });
});
