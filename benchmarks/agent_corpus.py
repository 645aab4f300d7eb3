"""A deterministic collection of Claude Code agent files for the memory benchmark, shaped like the public collections
(336 files, about 3,600 chunks of 800 characters when indexed, a share of them word for word the same in many files).

    /work/venv/bin/python benchmarks/agent_corpus.py DIR [--agents 336] [--seed 7]

Writes DIR/NAME.md: front matter (`name`, `description`, `tools`, `model`) and a system prompt. Each agent is a
subject (a language, framework or tool, with its own vocabulary) in a role (developer, reviewer, debugger,
architect, migration expert, test engineer). Bodies mix the subject's own sections with the role's checklists and
with boilerplate copied word for word across agents (a communication protocol, a delivery note, a tool guide), as
real collections do. `queries(directory)` gives one query per agent: the first 12 words of its description, to be
answered by its file. Seeded `random` only."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

# subject slug, display name, the subject's own phrases
SUBJECTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("rust", "Rust",
     ("ownership and borrowing", "lifetimes in public APIs", "unsafe blocks and FFI", "tokio async runtimes",
      "zero-cost abstractions", "cargo workspaces and features")),
    ("golang", "Go",
     ("goroutines and channels", "context cancellation", "interfaces and embedding", "the race detector",
      "module versioning", "pprof profiles")),
    ("python", "Python",
     ("type hints and mypy", "asyncio event loops", "packaging with pyproject", "decorators and descriptors",
      "generators and iterators", "pytest fixtures")),
    ("typescript", "TypeScript",
     ("strict compiler options", "generic constraints", "discriminated unions", "declaration files",
      "module resolution", "type narrowing")),
    ("javascript", "JavaScript",
     ("closures and scope", "promises and async functions", "event loop microtasks", "ES modules",
      "prototype chains", "bundle size")),
    ("java", "Java",
     ("the JVM garbage collector", "Spring dependency injection", "streams and lambdas", "virtual threads",
      "Maven builds", "JUnit extensions")),
    ("kotlin", "Kotlin",
     ("coroutines and flows", "null safety", "sealed classes", "Gradle Kotlin DSL", "Jetpack Compose",
      "extension functions")),
    ("swift", "Swift",
     ("SwiftUI views", "actors and structured concurrency", "value semantics", "protocol extensions",
      "Swift Package Manager", "ARC retain cycles")),
    ("csharp", "C#",
     ("LINQ queries", "async and await in .NET", "Entity Framework Core", "nullable reference types",
      "dependency injection in ASP.NET Core", "Span and memory pooling")),
    ("cpp", "C++",
     ("RAII and smart pointers", "move semantics", "template metaprogramming", "undefined behaviour",
      "CMake targets", "the C++20 ranges library")),
    ("c", "C",
     ("pointer arithmetic", "manual memory management", "the preprocessor", "embedded firmware", "valgrind reports",
      "POSIX system calls")),
    ("ruby", "Ruby",
     ("Rails ActiveRecord", "metaprogramming with method_missing", "RSpec examples", "Bundler gems", "Sidekiq jobs",
      "blocks and procs")),
    ("php", "PHP",
     ("Laravel Eloquent", "Composer autoloading", "PSR standards", "Symfony services", "PHPUnit tests",
      "opcache tuning")),
    ("scala", "Scala",
     ("implicits and givens", "Akka actors", "Spark jobs", "for comprehensions", "sbt builds", "cats effect")),
    ("elixir", "Elixir",
     ("OTP supervisors", "GenServer processes", "Phoenix LiveView", "pattern matching", "Ecto changesets",
      "BEAM hot code loading")),
    ("haskell", "Haskell",
     ("monads and transformers", "type classes", "lazy evaluation", "GHC extensions", "QuickCheck properties",
      "cabal projects")),
    ("react", "React",
     ("hooks and effects", "server components", "memoisation with useMemo", "context providers",
      "Suspense boundaries", "React Testing Library")),
    ("vue", "Vue",
     ("the composition API", "Pinia stores", "single-file components", "Nuxt server rendering",
      "reactivity with refs", "Vite builds")),
    ("angular", "Angular",
     ("RxJS observables", "standalone components", "signals", "dependency injection tokens", "change detection",
      "Angular CLI schematics")),
    ("svelte", "Svelte",
     ("runes and stores", "SvelteKit routing", "transitions and animations", "server load functions",
      "component slots", "form actions")),
    ("nextjs", "Next.js",
     ("the app router", "incremental static regeneration", "middleware at the edge", "image optimisation",
      "route handlers", "server actions")),
    ("django", "Django",
     ("the Django ORM", "class-based views", "migrations", "Django REST framework", "signals", "the admin site")),
    ("fastapi", "FastAPI",
     ("pydantic models", "dependency injection with Depends", "async endpoints", "OpenAPI schemas",
      "background tasks", "uvicorn workers")),
    ("flask", "Flask",
     ("blueprints", "Jinja templates", "application factories", "SQLAlchemy sessions", "request context",
      "Werkzeug routing")),
    ("graphql", "GraphQL",
     ("schema design", "resolvers and dataloaders", "federation", "subscriptions", "persisted queries",
      "N+1 query batching")),
    ("postgres", "PostgreSQL",
     ("query plans with EXPLAIN", "index design", "vacuum and bloat", "logical replication", "partitioned tables",
      "connection pooling with pgbouncer")),
    ("mysql", "MySQL",
     ("InnoDB buffer pool", "slow query log", "replication lag", "schema changes online",
      "character sets and collations", "deadlock analysis")),
    ("mongodb", "MongoDB",
     ("aggregation pipelines", "sharding keys", "replica sets", "document schema design", "change streams",
      "index intersection")),
    ("redis", "Redis",
     ("eviction policies", "pub/sub channels", "Lua scripts", "cluster slots", "streams and consumer groups",
      "persistence with AOF")),
    ("elasticsearch", "Elasticsearch",
     ("analyzers and tokenizers", "index mappings", "shard allocation", "query DSL relevance", "ingest pipelines",
      "snapshot restore")),
    ("kafka", "Kafka",
     ("partitions and consumer groups", "exactly-once semantics", "schema registry", "Kafka Connect",
      "log compaction", "broker tuning")),
    ("kubernetes", "Kubernetes",
     ("pod scheduling", "Helm charts", "network policies", "horizontal pod autoscaling", "operators and CRDs",
      "RBAC roles")),
    ("docker", "Docker",
     ("multi-stage builds", "image layer caching", "compose files", "container healthchecks", "rootless containers",
      "BuildKit secrets")),
    ("terraform", "Terraform",
     ("state files and locking", "modules and registries", "plan and apply workflows", "provider versions",
      "drift detection", "workspaces")),
    ("ansible", "Ansible",
     ("playbooks and roles", "inventories", "idempotent tasks", "Jinja filters", "vault encrypted secrets",
      "handlers")),
    ("aws", "AWS",
     ("IAM policies", "Lambda functions", "VPC networking", "S3 lifecycle rules", "CloudFormation stacks",
      "cost explorer reports")),
    ("gcp", "Google Cloud",
     ("BigQuery datasets", "Cloud Run services", "GKE clusters", "Pub/Sub topics", "IAM service accounts",
      "Cloud Build triggers")),
    ("azure", "Azure",
     ("Azure Functions", "AKS clusters", "Bicep templates", "Entra ID apps", "Cosmos DB containers",
      "Azure DevOps pipelines")),
    ("github-actions", "GitHub Actions",
     ("workflow matrices", "reusable workflows", "self-hosted runners", "OIDC to cloud providers",
      "caching dependencies", "required status checks")),
    ("security", "application security",
     ("OWASP Top 10", "threat modelling", "secret scanning", "dependency vulnerabilities", "authentication flows",
      "content security policy")),
    ("pentest", "penetration testing",
     ("reconnaissance", "privilege escalation", "web exploitation", "report writing",
      "scope and rules of engagement", "Burp Suite")),
    ("ml", "machine learning",
     ("feature engineering", "cross-validation", "hyperparameter search", "model drift", "gradient boosting",
      "experiment tracking")),
    ("llm", "LLM application",
     ("prompt design", "retrieval-augmented generation", "evaluation sets", "tool calling", "token budgets",
      "guardrails")),
    ("data-engineering", "data engineering",
     ("Airflow DAGs", "dbt models", "data contracts", "incremental loads", "Parquet partitioning",
      "data quality checks")),
    ("pandas", "pandas",
     ("DataFrame indexing", "groupby aggregations", "merge and join", "time series resampling",
      "memory-efficient dtypes", "vectorised operations")),
    ("sql", "SQL",
     ("window functions", "common table expressions", "query optimisation", "normalisation",
      "transactions and isolation", "stored procedures")),
    ("ios", "iOS",
     ("UIKit view controllers", "Core Data", "App Store review", "push notifications", "background tasks",
      "Instruments profiling")),
    ("android", "Android",
     ("activities and fragments", "Room database", "WorkManager", "Play Store releases", "ProGuard rules",
      "battery optimisation")),
    ("flutter", "Flutter",
     ("widgets and state", "Riverpod providers", "platform channels", "Dart isolates", "hot reload",
      "Material theming")),
    ("unity", "Unity",
     ("MonoBehaviour lifecycles", "ScriptableObjects", "the physics engine", "shader graphs", "asset bundles",
      "frame rate profiling")),
    ("accessibility", "accessibility",
     ("ARIA roles", "keyboard navigation", "screen reader testing", "colour contrast", "focus management",
      "WCAG 2.2 criteria")),
    ("seo", "SEO",
     ("structured data", "crawl budgets", "Core Web Vitals", "canonical URLs", "sitemaps", "internal linking")),
    ("technical-writing", "technical writing",
     ("API reference pages", "tutorials and how-to guides", "changelogs", "style guides", "docs as code", "diagrams")),
    ("observability", "observability",
     ("OpenTelemetry traces", "Prometheus metrics", "structured logs", "SLOs and error budgets", "alert fatigue",
      "Grafana dashboards")),
    ("performance", "performance engineering",
     ("load testing with k6", "flame graphs", "latency percentiles", "caching layers", "capacity planning",
      "memory leaks")),
    ("blockchain", "smart contract",
     ("Solidity contracts", "gas optimisation", "reentrancy attacks", "upgradeable proxies", "Foundry tests",
      "oracle design")),
)

# role slug, how the description opens, what it is used for, the role's own checklist
ROLES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("pro", "Expert {d} developer", "writing idiomatic {d} code",
     ("Write the smallest change that solves the problem", "Prefer the standard library before a dependency",
      "Leave the code easier to read than you found it")),
    ("reviewer", "Senior {d} code reviewer", "reviewing {d} pull requests",
     ("Read the whole diff before commenting", "Separate blocking issues from suggestions",
      "Point at the line and explain the risk")),
    ("debugger", "{d} debugging specialist", "tracking down {d} failures and crashes",
     ("Reproduce the failure before changing anything", "Bisect to the change that introduced it",
      "Add a test that fails without the fix")),
    ("architect", "{d} architect", "designing {d} systems and their boundaries",
     ("Write down the constraints before the design", "Compare at least two options with their costs",
      "Record the decision and what would change it")),
    ("migrator", "{d} migration expert", "upgrading and migrating {d} codebases",
     ("Inventory what depends on the old version", "Migrate in small steps that each ship",
      "Keep a rollback path until the old path is gone")),
    ("tester", "{d} test engineer", "building {d} test suites",
     ("Test behaviour through public interfaces", "Make each test fail for one reason",
      "Keep the suite fast enough to run on every change")),
)

PROTOCOL = """## Communication Protocol

Begin every task by asking the context manager for the state of the project. Send a short request naming what
you need: the repository layout, the conventions in force, the open decisions and the people who own them.

Report progress in short updates. Each update says what was done, what is next and what blocks you. Do not send
long logs: link to them.

When the work is done, hand over a summary: what changed, why, how it was verified and what remains open. Name
the files touched and the commands that reproduce the checks."""

DELIVERY = """## Delivery Checklist

- Every change is covered by a test that failed before it.
- The documentation says what changed for the people who use it.
- The commit messages explain why, not only what.
- Nothing secret is logged, committed or sent to a third party.
- The change was tried the way a user would try it, not only through its tests."""

TOOLS_GUIDE = """## Working with Tools

Use Read to open files before you change them, and Grep or Glob to find where a name is used before you rename
it. Use Bash for the project's own commands: its test runner, its linter, its build. Never run a command that
deletes or publishes anything without asking first.

Use Edit for small changes and Write only for new files. After each change, run the narrowest test that covers
it, then the wider suite before you hand the work back."""

SHARED = (PROTOCOL, DELIVERY, TOOLS_GUIDE)
TOOLS = ("Read", "Write", "Edit", "Bash", "Grep", "Glob", "WebFetch", "WebSearch", "Task")
ASPECTS = ("how it fails in production", "what a newcomer gets wrong", "how to measure it",
           "what the documentation leaves out", "how it interacts with the build", "what changed in recent releases",
           "how to test it in isolation", "how it behaves under load")


def _description(rng: random.Random, subject: tuple[str, str, tuple[str, ...]], role: tuple[str, ...]) -> str:
    _, display, phrases = subject
    picked = rng.sample(phrases, 4)
    return (f"{role[1].format(d=display)} specializing in {picked[0]}, {picked[1]} and {picked[2]}. "
            f"Use PROACTIVELY for {role[2].format(d=display)}, especially {picked[3]}.")


SENTENCES = (
    "In {d} work, {p} matter more than they seem to. Look first at {a}: most trouble with {p} starts there, long "
    "before anyone reads the code closely.",
    "Then check {a}. Write down what you find about {p} with a small example in {d}, so that the next person can see "
    "it without running the whole project.",
    "When a change touches {p}, read the surrounding {d} code first and ask {a}; a fix that ignores it tends to "
    "come back within a release or two.",
    "Keep notes on {p} next to the code: a short paragraph on {a} saves the next reviewer an afternoon of guessing.",
    "Measure before you change {p}. A number taken before and after, on the same machine, settles most arguments "
    "about {a} in {d} projects.",
    "Say plainly when {p} are the wrong tool for the job, and what you would use in {d} instead; then show {a} in "
    "one small, runnable example.",
    "Teams new to {d} often copy a pattern for {p} from an old answer on the internet. Check {a} against the "
    "current release before you trust it.",
)


def _section(rng: random.Random, display: str, phrase: str) -> str:
    """A subject section: a heading, paragraphs about one of its phrases, and an example."""
    paragraphs = [f"### {phrase[0].upper() + phrase[1:]}"]
    for template in rng.sample(SENTENCES, rng.randint(4, 6)):
        paragraphs.append(template.format(d=display, p=phrase, a=rng.choice(ASPECTS)))
    paragraphs.append(f"<example>\nuser: \"Can you look at our {phrase} in this {display} service?\"\n"
                      f"assistant: \"I'll start with {rng.choice(ASPECTS)}, then propose one change at a time.\"\n"
                      "</example>")
    return "\n\n".join(paragraphs)


def _body(rng: random.Random, name: str, subject: tuple[str, str, tuple[str, ...]], role: tuple[str, ...]) -> str:
    _, display, phrases = subject
    parts = [f"You are the {role[1].format(d=display).lower()} ({name}). You focus on {role[2].format(d=display)}.",
             "## Focus Areas\n\n" + "\n".join(f"- {p[0].upper() + p[1:]}" for p in rng.sample(phrases, 5))]
    parts += [_section(rng, display, p) for p in rng.sample(phrases, rng.randint(3, 6))]
    parts.append("## Approach\n\n" + "\n".join(f"{n}. {step}" for n, step in enumerate(role[3], 1)))
    shared = [block for block in SHARED if rng.random() < 0.6]
    parts += shared
    return "\n\n".join(parts) + "\n"


def agents(count: int = 336, seed: int = 7) -> list[tuple[str, str, str]]:
    """(name, description, file text) for `count` agents: each subject in each role, in order, then wrapping
    around with a numbered name."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        subject = SUBJECTS[n % len(SUBJECTS)]
        role = ROLES[(n // len(SUBJECTS)) % len(ROLES)]
        lap = n // (len(SUBJECTS) * len(ROLES))
        name = f"{subject[0]}-{role[0]}" + (f"-{lap + 1}" if lap else "")
        description = _description(rng, subject, role)
        tools = ", ".join(rng.sample(TOOLS, rng.randint(2, 6)))
        model = rng.choice(("sonnet", "opus", "haiku", "inherit"))
        text = (f"---\nname: {name}\ndescription: {description}\ntools: {tools}\nmodel: {model}\n---\n\n"
                + _body(rng, name, subject, role))
        out.append((name, description, text))
    return out


def write(directory: str | Path, count: int = 336, seed: int = 7) -> list[Path]:
    """Write the agent files into `directory`; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, _, text in agents(count, seed):
        paths.append(directory / f"{name}.md")
        paths[-1].write_text(text, encoding="utf-8")
    return paths


def queries(count: int = 336, seed: int = 7, words: int = 12) -> list[tuple[str, str]]:
    """(query, file name) per agent: the first `words` words of its description, answered by its file."""
    return [(" ".join(description.split()[:words]), f"{name}.md") for name, description, _ in agents(count, seed)]


def main() -> None:
    """The command line: write the collection into DIR."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--agents", type=int, default=336)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    write(options.directory, options.agents, options.seed)


if __name__ == "__main__":
    main()
