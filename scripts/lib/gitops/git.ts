/**
 * A thin, typed wrapper over the git CLI: one process per call, arguments as an array (never a
 * shell string), errors that carry git's own stderr. Everything else in gitops/ goes through it.
 */
import { execFile } from "node:child_process";

export class GitError extends Error {
  override name = "GitError";
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(
      `git ${args.join(" ")} failed${exitCode === undefined ? "" : ` (exit ${exitCode})`}: ${stderr.trim() || "(no output)"}`,
    );
  }
}

export interface GitRunOptions {
  /** Written to git's stdin. */
  input?: string;
  /** Extra environment for this call only (GIT_INDEX_FILE, ...). */
  env?: NodeJS.ProcessEnv;
}

/** Something that runs writes to completion, or holds them back (interrupt.ts's ChangeGuard). */
export interface WriteGate {
  write<T>(fn: () => Promise<T>): Promise<T>;
}

export class Git {
  constructor(
    readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
    /** With a gate, every git command is a write it waits for before an interrupt's undo runs. */
    private readonly gate?: WriteGate,
  ) {}

  /** The same repository without the gate: for the undo itself, which must not wait for itself. */
  ungated(): Git {
    return new Git(this.cwd, this.env);
  }

  /** Runs git and returns its stdout; throws a GitError on a non-zero exit. */
  run(args: readonly string[], options: GitRunOptions = {}): Promise<string> {
    return this.gate ? this.gate.write(() => this.spawn(args, options)) : this.spawn(args, options);
  }

  private spawn(args: readonly string[], options: GitRunOptions): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        "git",
        args,
        {
          cwd: this.cwd,
          env: { ...this.env, ...options.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
          maxBuffer: 256 * 1024 * 1024,
          encoding: "utf8",
        },
        (error, stdout, stderr) => {
          if (error) {
            const code = typeof error.code === "number" ? error.code : undefined;
            reject(new GitError(args, code, stderr || error.message));
          } else {
            resolve(stdout);
          }
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  }

  /** Like run, trimmed. */
  async out(args: readonly string[], options: GitRunOptions = {}): Promise<string> {
    return (await this.run(args, options)).trim();
  }

  /** Runs git and returns undefined instead of throwing when it exits non-zero. */
  async try(args: readonly string[], options: GitRunOptions = {}): Promise<string | undefined> {
    try {
      return await this.out(args, options);
    } catch (e) {
      if (e instanceof GitError) return undefined;
      throw e;
    }
  }

  async ok(args: readonly string[]): Promise<boolean> {
    return (await this.try(args)) !== undefined;
  }

  // ---- queries every command needs ------------------------------------------------------------

  async topLevel(): Promise<string> {
    return this.out(["rev-parse", "--show-toplevel"]);
  }

  /** `git status --porcelain` lines: modified, staged and untracked (not ignored) files. */
  async dirtyFiles(): Promise<string[]> {
    const out = await this.run(["status", "--porcelain", "--untracked-files=all"]);
    return out.split("\n").filter((l) => l.trim() !== "");
  }

  /** The checked-out branch, or undefined on a detached HEAD. */
  async currentBranch(): Promise<string | undefined> {
    return this.try(["symbolic-ref", "--quiet", "--short", "HEAD"]);
  }

  async revParse(rev: string): Promise<string | undefined> {
    return this.try(["rev-parse", "--verify", "--quiet", rev]);
  }

  async head(): Promise<string> {
    return this.out(["rev-parse", "HEAD"]);
  }

  async hasRemote(name: string): Promise<boolean> {
    const remotes = (await this.out(["remote"])).split("\n");
    return remotes.includes(name);
  }

  async remoteUrl(name: string): Promise<string | undefined> {
    return this.try(["remote", "get-url", name]);
  }

  /** The upstream of a branch as `remote/branch`, or undefined when it has none. */
  async upstreamOf(branch: string): Promise<string | undefined> {
    return this.try(["rev-parse", "--abbrev-ref", "--symbolic-full-name", `${branch}@{upstream}`]);
  }

  async countCommits(range: string): Promise<number> {
    return Number(await this.out(["rev-list", "--count", range]));
  }

  /** Remote branch names (without refs/heads/) matching a glob, straight from the remote. */
  async remoteBranches(remote: string, pattern: string): Promise<string[]> {
    const out = await this.out(["ls-remote", "--heads", remote, `refs/heads/${pattern}`]);
    return out
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t")[1]!.replace(/^refs\/heads\//, ""));
  }

  async localBranchExists(branch: string): Promise<boolean> {
    return this.ok(["show-ref", "--verify", "--quiet", `refs/heads/${branch}`]);
  }

  /** A file's content at a revision, or undefined when it does not exist there. */
  async showFile(rev: string, file: string): Promise<string | undefined> {
    try {
      return await this.run(["show", `${rev}:${file}`]);
    } catch (e) {
      if (e instanceof GitError) return undefined;
      throw e;
    }
  }

  /** Files under `dir` at `rev`, with their content, keyed by path relative to `dir`. */
  async treeAt(rev: string, dir: string): Promise<Map<string, string>> {
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    const listing = await this.run(["ls-tree", "-r", "-z", "--full-tree", rev, "--", prefix]);
    const entries = listing
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const [meta, file] = line.split("\t") as [string, string];
        const [, type, oid] = meta.split(" ") as [string, string, string];
        return { type, oid, file };
      })
      .filter((e) => e.type === "blob");
    const files = new Map<string, string>();
    if (entries.length === 0) return files;
    const contents = await this.catBlobs(entries.map((e) => e.oid));
    entries.forEach((e, i) => files.set(e.file.slice(prefix.length), contents[i]!));
    return files;
  }

  /** Reads many blobs with one `git cat-file --batch`. */
  private async catBlobs(oids: readonly string[]): Promise<string[]> {
    const read = () =>
      new Promise<Buffer>((resolve, reject) => {
        const child = execFile(
          "git",
          ["cat-file", "--batch"],
          {
            cwd: this.cwd,
            env: { ...this.env, LC_ALL: "C" },
            maxBuffer: 512 * 1024 * 1024,
            encoding: "buffer",
          },
          (error, stdout, stderr) =>
            error
              ? reject(new GitError(["cat-file", "--batch"], undefined, stderr.toString()))
              : resolve(stdout),
        );
        child.stdin?.end(oids.join("\n") + "\n");
      });
    const raw = await (this.gate ? this.gate.write(read) : read());
    const out: string[] = [];
    let pos = 0;
    for (let i = 0; i < oids.length; i++) {
      const eol = raw.indexOf(0x0a, pos);
      const header = raw.subarray(pos, eol).toString("utf8");
      const size = Number(header.split(" ")[2]);
      if (!Number.isFinite(size))
        throw new GitError(["cat-file", "--batch"], undefined, `unexpected header '${header}'`);
      out.push(raw.subarray(eol + 1, eol + 1 + size).toString("utf8"));
      pos = eol + 1 + size + 1;
    }
    return out;
  }
}
