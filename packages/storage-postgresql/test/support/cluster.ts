/**
 * A throwaway PostgreSQL cluster for the SSL and authentication tests: initdb as the `postgres` OS
 * user into a temp directory, a self-signed CA and a server certificate made with openssl, listening
 * on 127.0.0.1 on a free port. Removed by stop().
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";

/** Why a throwaway cluster cannot be made here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  if (!existsSync(join(BIN, "initdb"))) return `no PostgreSQL server binaries in ${BIN}`;
  if (process.getuid?.() !== 0) return "the tests must run as root to start a cluster as the postgres user";
  try {
    execFileSync("id", ["postgres"], { stdio: "ignore" });
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch {
    return "no postgres OS user or no openssl";
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

export interface Certificates {
  /** CA that signed the server certificate. */
  ca: string;
  /** A CA that did not. */
  otherCa: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate and key for the role `certuser`, signed by `ca`. */
  clientCert: string;
  clientKey: string;
}

/** A CA, another CA, and a server certificate for DNS:localhost only (so 127.0.0.1 is the "wrong host name"). */
export function makeCertificates(dir: string): Certificates {
  for (const name of ["ca", "other"]) {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=mdm test ${name} CA`, "-keyout", `${name}.key`, "-out", `${name}.crt`], dir);
  }
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"], dir);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost\n");
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt"], dir);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=certuser", "-keyout", "client.key", "-out", "client.csr"], dir);
  openssl(["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "client.crt"], dir);
  return {
    ca: join(dir, "ca.crt"),
    otherCa: join(dir, "other.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
}

export interface Cluster {
  port: number;
  dir: string;
  certificates: Certificates;
  /** Stop the server, keep the files (for "connection refused" checks). */
  stop(): void;
  /** Freeze the postmaster (SIGSTOP): connections are accepted by the kernel and never answered. */
  pause(): void;
  resume(): void;
  /** Stop and remove everything. */
  remove(): void;
}

function asPostgres(command: string, args: string[]): void {
  execFileSync("runuser", ["-u", "postgres", "--", join(BIN, command), ...args], { stdio: "pipe" });
}

/**
 * Start a cluster with password (SCRAM) authentication for user `postgres`. With `ssl`, TLS is on,
 * plaintext connections are rejected by pg_hba, and the role `certuser` (when created) logs in with
 * its client certificate; without it the server has no TLS at all.
 */
export async function startCluster(options: { password: string; ssl: boolean }): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "mdm-pg-cluster-"));
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
  const certificates = makeCertificates(dir);
  const ids = execFileSync("id", ["-u", "postgres"]).toString().trim();
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  for (const f of [dir, pwfile, certificates.serverCert, certificates.serverKey, certificates.ca]) chownSync(f, Number(ids), gid);
  chmodSync(certificates.serverKey, 0o600);
  asPostgres("initdb", ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "--no-sync"]);
  rmSync(pwfile);
  const hba = options.ssl
    ? "hostnossl all all 127.0.0.1/32 reject\nhostssl all certuser 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 scram-sha-256\nlocal all all scram-sha-256\n"
    : "host all all 127.0.0.1/32 scram-sha-256\nlocal all all scram-sha-256\n";
  writeFileSync(join(data, "pg_hba.conf"), hba);
  chownSync(join(data, "pg_hba.conf"), Number(ids), gid);
  const port = await freePort();
  const settings = [`-p ${port}`, "-c listen_addresses=127.0.0.1", `-k ${dir}`, "-c fsync=off"];
  if (options.ssl) settings.push("-c ssl=on", `-c ssl_cert_file=${certificates.serverCert}`, `-c ssl_key_file=${certificates.serverKey}`, `-c ssl_ca_file=${certificates.ca}`);
  asPostgres("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-t", "60", "-o", settings.join(" "), "start"]);
  let running = true;
  const stop = () => {
    if (!running) return;
    running = false;
    try {
      asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } catch {
      // already stopped
    }
  };
  const postmaster = () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  return {
    port,
    dir,
    certificates,
    stop,
    pause: () => process.kill(postmaster(), "SIGSTOP"),
    resume: () => process.kill(postmaster(), "SIGCONT"),
    remove: () => {
      stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
