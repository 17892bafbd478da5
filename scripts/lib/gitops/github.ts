/**
 * The little of GitHub's REST API that promotion needs: open a pull request. Which repository is
 * meant comes from `GITHUB_REPOSITORY` (set in Actions) or from origin's URL; where the API lives
 * from `GITHUB_API_URL` (default https://api.github.com); the token from `GITHUB_TOKEN`.
 */

export interface GitHubRepo {
  owner: string;
  repo: string;
  /** https://github.com or a GitHub Enterprise server, for compare URLs. */
  serverUrl: string;
}

export interface GitHubTarget extends GitHubRepo {
  apiUrl: string;
  /** Absent when no token is set: the compare URL is printed instead of opening a pull request. */
  token?: string;
}

/** owner/repo from a GitHub remote URL (https, ssh or scp-like), or undefined for other hosts. */
export function parseGitHubRemote(url: string, serverUrl = "https://github.com"): GitHubRepo | undefined {
  const host = new URL(serverUrl).host;
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const patterns = [
    new RegExp(`^https?://(?:[^@/]+@)?${escaped}/([^/]+)/([^/]+?)(?:\\.git)?/?$`),
    new RegExp(`^ssh://(?:[^@/]+@)?${escaped}(?::\\d+)?/([^/]+)/([^/]+?)(?:\\.git)?/?$`),
    new RegExp(`^(?:[^@/]+@)?${escaped}:([^/]+)/([^/]+?)(?:\\.git)?/?$`),
  ];
  for (const p of patterns) {
    const m = p.exec(url.trim());
    if (m) return { owner: m[1]!, repo: m[2]!, serverUrl: serverUrl.replace(/\/$/, "") };
  }
  return undefined;
}

/** Works out the GitHub repository and credentials from the environment and origin's URL. */
export function gitHubTarget(
  env: NodeJS.ProcessEnv,
  originUrl: string | undefined,
): GitHubTarget | undefined {
  const serverUrl = (env.GITHUB_SERVER_URL || "https://github.com").replace(/\/$/, "");
  const apiUrl = (env.GITHUB_API_URL || "https://api.github.com").replace(/\/$/, "");
  let repo: GitHubRepo | undefined;
  const slug = env.GITHUB_REPOSITORY?.trim();
  if (slug && /^[^/\s]+\/[^/\s]+$/.test(slug)) {
    const [owner, name] = slug.split("/") as [string, string];
    repo = { owner, repo: name, serverUrl };
  } else if (originUrl) {
    repo = parseGitHubRemote(originUrl, serverUrl);
  }
  if (!repo) return undefined;
  return { ...repo, apiUrl, ...(env.GITHUB_TOKEN ? { token: env.GITHUB_TOKEN } : {}) };
}

export function compareUrl(repo: GitHubRepo, base: string, head: string): string {
  const enc = (s: string) => s.split("/").map(encodeURIComponent).join("/");
  return `${repo.serverUrl}/${repo.owner}/${repo.repo}/compare/${enc(base)}...${enc(head)}?expand=1`;
}

export interface PullRequestInput {
  title: string;
  head: string;
  base: string;
  body: string;
}

export interface PullRequest {
  number: number;
  url: string;
}

export class GitHubError extends Error {
  override name = "GitHubError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** POST /repos/{owner}/{repo}/pulls */
export async function createPullRequest(
  target: GitHubTarget,
  pr: PullRequestInput,
  fetchImpl: typeof fetch = fetch,
): Promise<PullRequest> {
  if (!target.token) throw new GitHubError(401, "no GITHUB_TOKEN set");
  const url = `${target.apiUrl}/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}/pulls`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: "POST",
      headers: {
        Accept: "application/vnd.github+json",
        Authorization: `Bearer ${target.token}`,
        "Content-Type": "application/json",
        "User-Agent": "istio-gitops-workshop-promote",
        "X-GitHub-Api-Version": "2022-11-28",
      },
      body: JSON.stringify({
        title: pr.title,
        head: pr.head,
        base: pr.base,
        body: pr.body,
        maintainer_can_modify: true,
      }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new GitHubError(0, `could not reach ${url}: ${(e as Error).message}`);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new GitHubError(res.status, `could not read the answer of ${url}: ${(e as Error).message}`);
  }
  let json: { number?: number; html_url?: string; message?: string; errors?: Array<{ message?: string }> } =
    {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // keep the raw text for the message
  }
  if (res.status !== 201 || typeof json.number !== "number") {
    const detail =
      [json.message, ...(json.errors ?? []).map((e) => e.message)].filter(Boolean).join("; ") ||
      text.slice(0, 300);
    throw new GitHubError(res.status, `GitHub answered ${res.status} to POST ${url}: ${detail}`);
  }
  return {
    number: json.number,
    url: json.html_url ?? `${target.serverUrl}/${target.owner}/${target.repo}/pull/${json.number}`,
  };
}
