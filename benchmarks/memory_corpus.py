"""A deterministic corpus for the memory benchmark: chat logs, notebooks and planted facts with paraphrased questions.

    /work/venv/bin/python benchmarks/memory_corpus.py DIR [--seed 7] [--messages 7500] [--cells 1000]

Writes DIR/chats/AGENT/YYYY-MM.jsonl (one `{"role", "content", "timestamp", "session", "agent", "id"}` per line, as
`coditect_magics.memory.index` reads them), DIR/notebooks/*.ipynb (written with nbformat, explicit cell ids) and
DIR/questions.json: one entry per planted fact with a question that paraphrases it and the fact's identifying
substring (`key`), so recall@k is whether a top-k hit contains the key. Every fact sits inside an ordinary message or
cell of its topic; two hand-written distractors per fact and the topic filler share its words but never its answer.
Seeded `random` only: no network, no model."""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

MESSAGES = 7_500
CELLS = 1_000
START = 1_704_067_200.0  # 2024-01-01 00:00 UTC: timestamps run over the six months after it
SPAN_DAYS = 182
AGENTS = ("analyst", "coder", "ops", "assistant")


@dataclass(frozen=True)
class Fact:
    """One planted, checkable statement: `key` identifies it in a hit, `answer` appears nowhere else in the corpus."""

    id: str
    topic: str
    where: str  # "message", "markdown" or "code"
    text: str
    key: str
    answer: str
    question: str  # keeps the names a user would remember, rephrases the rest
    hard: str  # a harder paraphrase: synonyms for the names too
    distractors: tuple[str, str]


def _f(id: str, topic: str, where: str, text: str, key: str, answer: str, question: str, hard: str,
       *distractors: str) -> Fact:
    return Fact(id, topic, where, text, key, answer, question, hard, (distractors[0], distractors[1]))


FACTS: tuple[Fact, ...] = (
    # -- devops and Kubernetes
    _f("kafka-port", "devops", "message",
       "The staging Kafka cluster for project Nimbus listens on port 9093, not the default one.",
       "Nimbus listens on port 9093", "9093", "What port is the Nimbus staging Kafka on?",
       "Which port does Nimbus's staging Kafka use?",
       "The production Kafka brokers for Nimbus sit behind the internal load balancer.",
       "Orion's staging Kafka cluster was upgraded to the 3.6 release last sprint."),
    _f("k8s-namespace", "kubernetes", "message",
       "We moved the billing workers into the Kubernetes namespace payments-batch-eu so they stop competing with the "
       "API pods.", "namespace payments-batch-eu", "payments-batch-eu",
       "Which Kubernetes namespace do the billing workers run in?",
       "Where in the cluster do the billing worker pods run now?",
       "The billing API pods still run with three replicas in the default namespace.",
       "Remember to set resource limits on the billing workers before the next deploy."),
    _f("pod-memory", "kubernetes", "message",
       "The ingest-worker deployment now has a memory limit of 3Gi after the OOMKills last week.",
       "memory limit of 3Gi", "3Gi",
       "What memory limit did we give the ingest-worker deployment?",
       "How much RAM is the ingest worker container allowed after the out-of-memory crashes?",
       "The ingest-worker pods keep getting OOMKilled when the backlog is large.",
       "CPU requests for the ingest-worker deployment are set to half a core."),
    _f("helm-chart", "kubernetes", "message",
       "Production is pinned to the ingress-nginx Helm chart 4.7.1 until the annotation bug is fixed.",
       "ingress-nginx Helm chart 4.7.1", "4.7.1", "Which ingress-nginx chart version is production pinned to?",
       "Which release of the nginx ingress chart are we holding prod on?",
       "We should upgrade the ingress controller chart once the annotation bug is resolved upstream.",
       "Staging runs the latest ingress-nginx chart with the default values file."),
    _f("ci-runner", "devops", "message",
       "Our GitHub Actions jobs run on the self-hosted runner group called tundra-x64.",
       "runner group called tundra-x64", "tundra-x64", "Which self-hosted runner group do our GitHub Actions jobs use?",
       "What's the name of the self-hosted machines our CI uses?",
       "The CI workflow caches pip downloads between GitHub Actions jobs.",
       "Hosted runners were too slow for the integration suite, so we looked at self-hosted ones."),
    _f("backup-time", "devops", "message",
       "Postgres backups for Atlas run nightly at 02:40 UTC and are kept for 35 days.",
       "nightly at 02:40 UTC", "02:40", "When do the nightly Postgres backups for Atlas run?",
       "What time does the Atlas database get backed up each night?",
       "Atlas's Postgres replica lag spiked during the backup window again.",
       "We restore the Atlas backups into a scratch instance once a month to test them."),
    _f("code-freeze", "planning", "message",
       "The code freeze for the Helios release starts on November 14.",
       "Helios release starts on November 14", "November 14", "When does the Helios code freeze begin?",
       "When do we stop merging for Helios's launch?",
       "The Helios release notes still need a section on the new export API.",
       "After the Helios release we will lift the freeze and merge the big refactor."),
    _f("redis-timeout", "debugging", "message",
       "Connection resets to Redis were caused by the idle timeout of 300 seconds on the load balancer.",
       "idle timeout of 300 seconds", "300 seconds", "What was causing the Redis connection resets?",
       "Why were our Redis connections being dropped?",
       "Redis memory usage is fine, the eviction policy is allkeys-lru.",
       "The load balancer health checks for Redis pass every time."),
    # -- cloud costs
    _f("s3-bill", "cloud_costs", "message",
       "Our S3 bill for the analytics bucket was $4,870 last month, mostly from Glacier retrievals.",
       "analytics bucket was $4,870", "$4,870", "What was last month's S3 cost for the analytics bucket?",
       "How much did storage for the analytics bucket cost us last month?",
       "The analytics bucket has lifecycle rules that move objects to Glacier after 90 days.",
       "S3 request charges are small compared to data transfer for the analytics team."),
    _f("savings-plan", "cloud_costs", "message",
       "In January we committed to a three-year Savings Plan of $12.50 per hour for compute.",
       "Savings Plan of $12.50 per hour", "$12.50", "How much per hour is our compute Savings Plan commitment?",
       "What hourly commitment did we sign for the compute discount?",
       "The Savings Plan coverage report shows some compute still billed on demand.",
       "Finance wants to review the compute commitment before renewing anything."),
    _f("egress-spike", "cloud_costs", "message",
       "Most of the egress spike came from the Zephyr video thumbnails being served from us-east-2 to Asia.",
       "Zephyr video thumbnails", "video thumbnails", "What was behind the egress spike from us-east-2?",
       "What caused the jump in outbound data transfer charges?",
       "Data transfer out of us-east-2 is billed per GB after the free tier.",
       "The CDN in front of Zephyr caches the static assets for a day."),
    _f("gpu-spot", "cloud_costs", "message",
       "A single A100 spot node in our account costs about $1.18 an hour in us-west-2.",
       "costs about $1.18 an hour", "$1.18", "How much does an A100 spot node cost per hour in us-west-2?",
       "What's the hourly price of one A100 spot instance for us?",
       "On-demand A100 nodes are much more expensive than spot in us-west-2.",
       "Spot interruptions for the GPU nodes happen a few times a week."),
    # -- ML training
    _f("kestrel-lr", "ml_training", "message",
       "The best Kestrel churn model used a learning rate of 0.0007 with cosine decay.",
       "learning rate of 0.0007", "0.0007", "Which learning rate did the best Kestrel churn model use?",
       "What step size gave the top churn model for Kestrel?",
       "The Kestrel churn model overfits after about twenty epochs without early stopping.",
       "We tried a warmup schedule for the churn model but it made little difference."),
    _f("fraud-auc", "ml_training", "message",
       "Validation AUC for the fraud classifier peaked at 0.913 at epoch 14.",
       "peaked at 0.913", "0.913", "What was the best validation AUC of the fraud classifier?",
       "What was the highest validation score the fraud detection model reached?",
       "The fraud classifier's precision at the chosen threshold is what the risk team cares about.",
       "Validation loss for the fraud model started rising after the learning rate drop."),
    _f("frozen-layers", "ml_training", "message",
       "We froze the first six transformer layers when fine-tuning the support-ticket classifier.",
       "first six transformer layers", "first six", "Which layers did we freeze when fine-tuning the support-ticket classifier?",
       "How many encoder blocks stayed frozen while fine-tuning the "
       "ticket categorizer?",
       "Fine-tuning the support-ticket classifier takes about an hour on one GPU.",
       "The ticket classifier confuses billing and refund categories most often."),
    _f("rec-rows", "ml_training", "message",
       "The recommendation model trains on 38 million interaction rows from the last 90 days.",
       "38 million interaction rows", "38 million", "How many interaction rows does the recommendation model train on?",
       "How large is the training set for the recommender?",
       "Interaction rows older than a quarter are dropped from the recommendation pipeline.",
       "The recommendation model is retrained every Sunday night."),
    _f("vision-batch", "ml_training", "message",
       "Batch size 96 was the largest that fit on the 24 GB GPU for the vision model.",
       "Batch size 96 was the largest", "Batch size 96", "What is the largest batch size that fits on the 24 GB GPU for the vision model?",
       "What's the biggest minibatch that fits in memory for the "
       "image model?",
       "Mixed precision made the vision model train faster on the 24 GB card.",
       "Gradient accumulation lets us simulate bigger batches for the vision model."),
    _f("lgbm-leaves", "ml_training", "code",
       "model = LGBMClassifier(num_leaves=63, n_estimators=1200, learning_rate=0.03)  # tuned in May",
       "num_leaves=63", "num_leaves=63", "How many leaves does the tuned LightGBM classifier use?",
       "How many leaves per tree does the tuned gradient boosting model use?",
       "# LightGBM tends to overfit small datasets unless min_child_samples is raised",
       "model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)])  # early stopping on the validation fold"),
    # -- data analysis and pandas
    _f("seg-column", "pandas", "message",
       "In the sales dataset the column cust_seg_cd holds the customer segment code.",
       "column cust_seg_cd", "cust_seg_cd", "Which column in the sales dataset has the customer segment?",
       "Which field in the sales data tells me what segment a customer is in?",
       "The sales dataset has one row per order line, not per order.",
       "Customer segments were redefined by marketing at the start of the year."),
    _f("orders-sep", "pandas", "message",
       "Remember that the orders export uses a semicolon separator and a comma as the decimal mark.",
       "semicolon separator", "semicolon", "What separator does the orders export use?",
       "What delimiter does the orders CSV export use?",
       "The orders export lands in the shared drive every morning as a CSV file.",
       "Use dtype=str for the zip codes when you read the orders export."),
    _f("dup-invoices", "data_analysis", "message",
       "The duplicated invoices come from the March 3 reload; drop rows where load_batch == 'r2'.",
       "load_batch == 'r2'", "'r2'", "How do I drop the duplicated invoices from the March reload?",
       "How do I filter out the double-counted invoices?",
       "Invoice totals looked too high in March, so someone should check the reload.",
       "drop_duplicates on invoice_id alone removes legitimate credit notes too."),
    _f("events-size", "pandas", "message",
       "pd.read_parquet on the events table is only fast with columns= set; the full table is 41 GB.",
       "the full table is 41 GB", "41 GB", "How large is the full events table?",
       "How big is the whole events table on disk?",
       "The events table is partitioned by day in the data lake.",
       "Reading the events parquet files with pyarrow filters avoids loading every partition."),
    _f("lisbon-basket", "data_analysis", "message",
       "Median basket size in the Lisbon stores rose to 23.4 euros after the loyalty launch.",
       "rose to 23.4 euros", "23.4 euros", "How much is the median basket in Lisbon after the loyalty program launched?",
       "What's the typical order value in the Portuguese capital's shops since "
       "the rewards program started?",
       "The loyalty launch in Lisbon brought a lot of new sign-ups in the first week.",
       "Basket size in the Porto stores is usually lower than the national average."),
    _f("churn-days", "data_analysis", "code",
       "# churn threshold agreed with finance: users inactive this many days count as churned\nCHURN_DAYS = 45",
       "CHURN_DAYS = 45", "CHURN_DAYS = 45", "How many days of inactivity count as churn?",
       "After how many inactive days do we count a user as churned?",
       "churned = last_seen < snapshot_date - pd.Timedelta(days=CHURN_WINDOW)  # window from the config",
       "# churn rate by cohort, computed on the monthly snapshot"),
    _f("ab-seed", "data_analysis", "code",
       "SAMPLE_SEED = 20240611  # keep fixed so the A/B split is reproducible",
       "SAMPLE_SEED = 20240611", "20240611", "What is the sample seed for the A/B split?",
       "What random seed do we use for the experiment split?",
       "rng = np.random.default_rng(seed)  # the seed of each split comes from the experiment config",
       "# assign users to the A/B groups by hashing user_id, not at random per session"),
    _f("funnel-drop", "data_analysis", "markdown",
       "The conversion funnel drops hardest between cart and payment: only 31% of carts reach the payment step.",
       "31% of carts", "31%", "How many carts make it to payment in the conversion funnel?",
       "What share of shopping carts make it to the checkout payment?",
       "The funnel chart below shows each step from product view to cart to payment.",
       "Mobile users abandon the cart more often than desktop users."),
    _f("vat", "data_analysis", "markdown",
       "Note: the `revenue_eur` column already excludes VAT; do not divide by 1.21 again.",
       "already excludes VAT", "excludes VAT", "Does the revenue_eur column include VAT?",
       "Is tax included in the euro revenue field?",
       "Revenue is reported in euros, converted at the monthly average rate.",
       "The `revenue_eur` column is summed per country in the next cell."),
    _f("outliers", "data_analysis", "markdown",
       "Outliers above the 99.5th percentile of session_length are capped, not dropped.",
       "99.5th percentile", "99.5th", "What do we do with session_length outliers?",
       "How do we handle extreme values in session duration?",
       "The session_length distribution has a very long right tail.",
       "Sessions shorter than two seconds are bot traffic and are removed."),
    _f("ab-lift", "data_analysis", "code",
       "# A/B result: variant B lifted signup conversion by 4.2 points (p=0.003)",
       "lifted signup conversion by 4.2 points", "4.2 points", "By how much did variant B lift signup conversion in the A/B test?",
       "How much did the winning variant improve signups?",
       "# the A/B test ran for two full weeks to cover weekday and weekend traffic",
       "signup_rate = df.groupby('variant')['signed_up'].mean()"),
    # -- plotting
    _f("brand-colour", "plotting", "message",
       "For the board deck we use the colour #1F6FB2 for our brand line in every chart.",
       "colour #1F6FB2", "#1F6FB2", "What colour is our brand line in the board deck charts?",
       "Which hex colour should our company series be in presentation charts?",
       "The board deck charts should have no gridlines and a light grey background.",
       "Competitor lines in the board deck are drawn in muted grey."),
    _f("dpi", "plotting", "message",
       "Set plt.rcParams['figure.dpi'] = 144 so the exported PNGs look sharp on retina screens.",
       "rcParams['figure.dpi'] = 144", "= 144", "What figure.dpi should matplotlib use for sharp PNG exports?",
       "What resolution setting makes our matplotlib exports crisp on "
       "high-density displays?",
       "Exported PNGs looked blurry in the slides because they were scaled up.",
       "Use bbox_inches='tight' when saving the matplotlib figures for the report."),
    _f("heatmap-cmap", "plotting", "message",
       "The dashboards standardise on the viridis colormap for heatmaps because of colour-blind readers.",
       "viridis colormap", "viridis", "Which colormap do the dashboard heatmaps use?",
       "Which palette do we use for heat maps, for accessibility?",
       "Red-green colour scales are hard to read for colour-blind people.",
       "The correlation heatmap on the dashboard is annotated with two decimals."),
    _f("log-axis", "plotting", "markdown",
       "Since the March review all revenue charts use a log scale on the y-axis.",
       "log scale on the y-axis", "log scale", "What y-axis scale do the revenue charts use?",
       "How are the revenue plots' vertical axes scaled?",
       "Revenue charts were discussed at the March review; people wanted fewer lines per chart.",
       "The x-axis of the revenue charts shows calendar weeks."),
    # -- SQL
    _f("orders-index", "sql", "message",
       "The monthly revenue query was slow because orders.created_at had no index; we added idx_orders_created_at.",
       "idx_orders_created_at", "idx_orders_created_at", "Which index fixed the slow monthly revenue query on orders?",
       "Which index did we add to speed up the revenue-by-month "
       "report?",
       "EXPLAIN ANALYZE showed a sequential scan on the orders table for the monthly revenue query.",
       "The revenue query groups by date_trunc('month', created_at)."),
    _f("replica-host", "sql", "message",
       "The read replica for reporting is reporting-db-2.internal, so use it for anything heavy.",
       "reporting-db-2.internal", "reporting-db-2", "What is the hostname of the reporting read replica?",
       "Which database host should I point heavy analytics queries "
       "at?",
       "Heavy queries on the primary database slowed the checkout last quarter.",
       "Replication lag on the reporting replica is usually under a second."),
    _f("contact-table", "sql", "message",
       "Customer emails live in the table crm.contact_points, not in users.",
       "crm.contact_points", "contact_points", "Which table holds customer emails?",
       "Where are client email addresses stored in the warehouse?",
       "The users table only has the login name and the signup date.",
       "Email opt-outs are synced from the marketing tool every night."),
    _f("query-timeout", "sql", "message",
       "Warehouse queries on the analyst role are cancelled after 900 seconds.",
       "cancelled after 900 seconds", "900 seconds", "What is the query timeout for the analyst role in the warehouse?",
       "How long can an analyst query run before it's killed?",
       "Long-running warehouse queries should be scheduled as batch jobs instead.",
       "The analyst role has read access to every schema except finance."),
    _f("warehouse-engine", "sql", "code",
       "# warehouse connection used by every notebook\nENGINE_URL = 'postgresql://analyst@wh-prod-3:5439/metrics'",
       "wh-prod-3:5439", "wh-prod-3", "Which warehouse host and port does the notebooks' ENGINE_URL point to?",
       "What host and port do the notebooks connect to for the warehouse?",
       "engine = sqlalchemy.create_engine(os.environ['WAREHOUSE_URL'])  # credentials come from the env",
       "# the metrics database holds the daily aggregates, not the raw events"),
    _f("scd2", "sql", "markdown",
       "The `dim_customer` table is SCD type 2: filter on `is_current = true` to get today's attributes.",
       "is_current = true", "is_current", "How do I filter dim_customer to the current rows?",
       "How do I get only the latest version of each customer row?",
       "`dim_customer` keeps one row per change of address or plan.",
       "Join `dim_customer` on customer_key, not on customer_id."),
    # -- debugging
    _f("region-keyerror", "debugging", "message",
       "The KeyError: 'region_code' in the nightly job happens because the EU feed renamed the field to regionCode.",
       "renamed the field to regionCode", "regionCode", "Why does the nightly job fail with KeyError 'region_code'?",
       "Why does the nightly pipeline crash with a missing key "
       "error about the region?",
       "The nightly job reads the EU feed and the US feed and merges them by region.",
       "KeyErrors in the nightly job are reported to the data channel."),
    _f("pillow-pin", "debugging", "message",
       "The segfault in the image worker went away after pinning Pillow to 10.2.0.",
       "pinning Pillow to 10.2.0", "10.2.0", "Which Pillow version stopped the image worker segfault?",
       "Which library version fixed the crash in the image processing worker?",
       "The image worker segfaults only on some large TIFF uploads.",
       "We run the image worker with faulthandler enabled to get a stack on crashes."),
    _f("recursion", "debugging", "message",
       "That RecursionError came from the serializer following the parent pointer in TreeNode.",
       "parent pointer in TreeNode", "parent pointer", "Where did the serializer's RecursionError come from?",
       "What caused maximum recursion depth exceeded when saving "
       "objects?",
       "Raising the recursion limit only hides the serializer problem.",
       "TreeNode objects are serialized to JSON before they go into the cache."),
    _f("flaky-test", "debugging", "message",
       "The flaky test_checkout_total fails when the timezone is not UTC, so set TZ=UTC in CI.",
       "test_checkout_total", "test_checkout_total", "Which checkout test is flaky when the timezone is not UTC?",
       "Which unit test fails now and then because of the time zone?",
       "Flaky tests are tracked in the quarantine list until someone fixes them.",
       "The checkout tests use frozen time via freezegun."),
    # -- planning and meetings
    _f("borealis-launch", "planning", "message",
       "Project Borealis has a hard launch date of 9 March and a budget of 240k.",
       "hard launch date of 9 March", "9 March", "What is the Borealis launch date?",
       "When does Borealis need to go live?",
       "Borealis launch planning needs a go/no-go meeting two weeks before.",
       "The Borealis budget is tracked in the shared planning sheet."),
    _f("quartz-owner", "planning", "message",
       "Ines Duarte owns the data migration workstream for Quartz.",
       "Ines Duarte owns", "Ines Duarte", "Who owns the Quartz data migration?",
       "Who is responsible for moving the data in the Quartz project?",
       "The Quartz data migration needs a rollback plan before cut-over.",
       "Quartz workstreams are reviewed every second Thursday."),
    _f("helios-scope", "planning", "message",
       "We agreed to drop the offline mode from the Helios MVP scope.",
       "drop the offline mode", "offline mode", "What did we cut from the Helios MVP scope?",
       "Which feature got cut from the first Helios release?",
       "The Helios MVP scope is frozen once the design review signs off.",
       "Helios customers asked for better exports in the last survey."),
    _f("sprint-length", "planning", "message",
       "Sprint length changes from two weeks to three weeks starting in Q3.",
       "to three weeks starting in Q3", "three weeks", "How long will sprints be from Q3?",
       "How long will our iterations be after the summer change?",
       "Sprint reviews are on the last Friday of each sprint.",
       "Velocity dropped during the last two sprints because of on-call load."),
    _f("atlas-estimate", "planning", "message",
       "The Atlas onboarding flow redesign is estimated at 34 story points.",
       "34 story points", "34 story points", "How many story points is the Atlas onboarding redesign?",
       "How big is the estimate for redoing Atlas's signup flow?",
       "The Atlas onboarding redesign needs input from the support team.",
       "Story point estimates for Atlas were done in planning poker."),
    _f("arch-review", "meetings", "message",
       "The architecture review moved to Wednesdays at 16:15 in the Fjord room.",
       "in the Fjord room", "Fjord", "Which room is the architecture review in now?",
       "Where and when does the architecture review meet now?",
       "The architecture review agenda is posted in the engineering channel.",
       "Architecture review decisions are written up as ADRs."),
    _f("advisory-board", "meetings", "message",
       "The customer advisory board meets every quarter in Rotterdam.",
       "quarter in Rotterdam", "Rotterdam", "Where does the customer advisory board meet?",
       "Which city hosts the customer advisory board sessions?",
       "The customer advisory board asked for a clearer product roadmap.",
       "Invitations to the advisory board go out a month in advance."),
    _f("priya-move", "meetings", "message",
       "In our 1:1 Priya asked to move to the platform team by June.",
       "move to the platform team by June", "platform team", "Which team did Priya ask to join in her 1:1?",
       "Which team does Priya want to transfer to?",
       "Priya's 1:1 notes are in the shared folder.",
       "Priya is leading the release checklist work this month."),
    _f("settings-tabs", "meetings", "message",
       "Decision from the design sync: the settings page will use tabs instead of a sidebar.",
       "tabs instead of a sidebar", "tabs instead", "What did the design sync decide for the settings page layout?",
       "How did the design meeting decide to lay out the settings "
       "screen?",
       "The design sync ran over time because of the onboarding discussion.",
       "The settings page needs a search box according to user research."),
    # -- travel
    _f("osaka-flight", "travel", "message",
       "My flight to Osaka is JL 62 leaving at 11:05 on the 18th.",
       "Osaka is JL 62", "JL 62", "What's my flight number to Osaka?",
       "What's my flight number for the Japan trip?",
       "I still need to book the train from Osaka to Kyoto.",
       "The Osaka hotel is close to Namba station."),
    _f("porto-hotel", "travel", "message",
       "The hotel in Porto is Casa do Rio, booked under confirmation number PX7731.",
       "confirmation number PX7731", "PX7731", "What's the confirmation number of the Porto hotel?",
       "What's the booking reference for the Porto hotel?",
       "The Porto hotel has a late check-in desk until midnight.",
       "We should book a port wine cellar tour in Porto."),
    _f("swiss-pass", "travel", "message",
       "The Swiss Half Fare Card costs 190 francs and pays off after two long train trips.",
       "costs 190 francs", "190 francs", "How much does the Swiss Half Fare Card cost?",
       "How much is the Swiss half-price rail card?",
       "Swiss trains are expensive, so compare the travel pass options.",
       "The train from Zurich to Lucerne takes about an hour."),
    _f("alfama", "travel", "message",
       "For the Lisbon offsite we are staying in Alfama, five minutes from the tram 28 stop.",
       "staying in Alfama", "Alfama", "Which Lisbon neighbourhood are we staying in for the offsite?",
       "Which neighbourhood is the team lodging in for the offsite in Portugal?",
       "The Lisbon offsite agenda has a free afternoon on the second day.",
       "Tram 28 gets very crowded with tourists in the afternoon."),
    # -- cooking
    _f("sourdough", "cooking", "message",
       "My sourdough works best at 78% hydration with a 14-hour cold retard.",
       "78% hydration", "78%", "What hydration does my sourdough work best at?",
       "How wet should my bread dough be?",
       "The sourdough starter needs feeding twice a day when it's warm.",
       "A cold retard in the fridge makes the sourdough crust blister."),
    _f("dal-tadka", "cooking", "message",
       "The dal recipe needs a tadka of cumin, mustard seeds and curry leaves in ghee.",
       "mustard seeds and curry leaves", "curry leaves", "What goes into the tadka for the dal?",
       "What goes into the tempering for the lentils?",
       "Red lentils cook faster than the yellow ones for dal.",
       "The dal tastes better the next day."),
    _f("pork-roast", "cooking", "message",
       "Roast the pork shoulder at 150°C for five hours, then blast it at 230°C for crackling.",
       "150°C for five hours", "150°C", "At what temperature and for how long do I roast the pork shoulder?",
       "What oven temperature and time for the slow pork roast?",
       "Score the pork skin and salt it the night before.",
       "Pork shoulder is cheaper than loin and better for slow roasting."),
    _f("lemon-cake", "cooking", "message",
       "Grandma's lemon cake uses 3 eggs, 180 g sugar and the zest of two lemons.",
       "180 g sugar", "180 g", "How much sugar goes into Grandma's lemon cake?",
       "How much sugar is in grandmother's citrus cake?",
       "Grandma's lemon cake gets a syrup glaze while it is still warm.",
       "Use unwaxed lemons for the zest."),
    # -- personal finance
    _f("index-fund", "finance", "message",
       "I set up a standing order of 450 euros into the index fund on the 2nd of each month.",
       "standing order of 450 euros", "450 euros", "How much goes into the index fund by standing order each month?",
       "How much do I automatically invest in the ETF every month?",
       "The index fund has a total expense ratio of 0.2 percent.",
       "I rebalance the portfolio once a year."),
    _f("mortgage-rate", "finance", "message",
       "Our mortgage fixed rate of 3.85% ends in August 2027.",
       "fixed rate of 3.85%", "3.85%", "What's our mortgage's fixed rate?",
       "What interest rate is locked on the home loan?",
       "The bank sent an offer to refinance the mortgage.",
       "Overpaying the mortgage is allowed up to 10 percent a year."),
    _f("emergency-fund", "finance", "message",
       "The emergency fund target is six months of expenses, about 21,000.",
       "about 21,000", "21,000", "What's the target for the emergency fund?",
       "How much should the rainy-day savings be?",
       "The emergency fund sits in an instant-access savings account.",
       "Monthly expenses went up after the move."),
    _f("tax-deadline", "finance", "message",
       "The tax return for the freelance income is due on 31 July this year because of the extension.",
       "due on 31 July", "31 July", "When is the freelance tax return due?",
       "When must I file taxes on my self-employed earnings?",
       "Keep the receipts for freelance expenses for the tax return.",
       "The accountant charges a fixed fee for the tax return."),
    # -- health
    _f("vitamin-d", "health", "message",
       "Dr. Okafor said to keep the vitamin D at 2000 IU daily through winter.",
       "2000 IU daily", "2000 IU", "How much vitamin D did Dr. Okafor tell me to take?",
       "What dose of the sunshine vitamin did the doctor recommend?",
       "Vitamin D levels were low in the last blood test.",
       "The next check-up with Dr. Okafor is in spring."),
    _f("resting-hr", "health", "message",
       "My resting heart rate dropped to 54 bpm after three months of zone-2 training.",
       "dropped to 54 bpm", "54 bpm", "What is my resting heart rate after the zone-2 training?",
       "What's my pulse at rest now after the endurance running?",
       "Zone-2 training means running slow enough to hold a conversation.",
       "The watch tracks heart rate variability overnight."),
    _f("achilles", "health", "message",
       "The physio recommended three sets of 15 eccentric heel drops for the Achilles.",
       "eccentric heel drops", "heel drops", "What exercise did the physio give me for the Achilles?",
       "Which exercise is prescribed for my tendon rehab?",
       "The Achilles pain is worse in the morning.",
       "The physio said to avoid hill running for a while."),
    _f("birch", "health", "message",
       "The allergy test came back positive for birch pollen, not grass.",
       "positive for birch pollen", "birch", "What did the allergy test come back positive for?",
       "What am I allergic to according to the test results?",
       "Antihistamines help with the hay fever in spring.",
       "The allergy clinic wants a follow-up in a year."),
)

# -- filler: slots and per-topic sentence banks ------------------------------------------------------------------------
SLOTS: dict[str, tuple[str, ...]] = {
    "project": ("Nimbus", "Orion", "Atlas", "Helios", "Zephyr", "Borealis", "Kestrel", "Quartz", "Lynx", "Meridian"),
    "person": ("Ana", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Jonas", "Karin", "Leo", "Maya",
               "Nora", "Omar", "Priya", "Rui", "Sofia", "Tomasz"),
    "env": ("staging", "production", "dev", "QA"),
    "table": ("orders", "events", "sessions", "invoices", "customers", "payments", "shipments", "page_views",
              "subscriptions", "refunds"),
    "col": ("user_id", "order_total", "created_at", "country", "channel", "device", "plan", "discount", "sku",
            "store_id", "signup_date", "amount"),
    "service": ("checkout-api", "search-svc", "auth-gateway", "ingest-worker", "notifier", "billing-api",
                "report-builder", "image-worker", "feature-store"),
    "region": ("eu-west-1", "us-east-1", "ap-southeast-1", "eu-central-1", "us-west-2"),
    "city": ("Lisbon", "Osaka", "Porto", "Zurich", "Vienna", "Krakow", "Seville", "Copenhagen", "Kyoto", "Ghent"),
    "dish": ("risotto", "ramen", "shakshuka", "lasagne", "green curry", "focaccia", "paella", "tacos", "dal",
             "banana bread", "pho"),
    "lib": ("pandas", "polars", "numpy", "scikit-learn", "matplotlib", "seaborn", "plotly", "duckdb", "pyarrow"),
    "metric": ("AUC", "F1", "RMSE", "precision", "recall", "log loss", "MAPE"),
    "model": ("XGBoost baseline", "logistic regression", "LightGBM model", "BERT classifier", "random forest",
              "two-tower recommender", "ResNet"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "month": ("January", "February", "March", "April", "May", "June"),
    "error": ("KeyError", "ValueError", "TypeError", "AttributeError", "IndexError", "TimeoutError",
              "ConnectionResetError"),
    "chart": ("line chart", "bar chart", "scatter plot", "histogram", "box plot", "stacked area chart"),
    "cloud": ("EC2", "S3", "RDS", "EKS", "CloudWatch", "NAT gateway", "BigQuery", "Lambda"),
}
NUMBERS: dict[str, Callable[[random.Random], str]] = {
    "n": lambda r: str(r.randint(2, 60)),
    "big": lambda r: f"{r.randint(2, 900):,}{r.choice(('k', ' thousand', ',000'))}",
    "pct": lambda r: f"{r.randint(2, 95)}%",
    "usd": lambda r: f"${r.randint(20, 9000):,}",
    "eur": lambda r: f"{r.randint(5, 900)} euros",
    "ms": lambda r: f"{r.randint(15, 2500)} ms",
    "hour": lambda r: f"{r.randint(7, 19)}:{r.choice(('00', '15', '30', '45'))}",
    "version": lambda r: f"{r.randint(1, 5)}.{r.randint(0, 12)}",
    "line": lambda r: str(r.randint(12, 480)),
    "float": lambda r: f"0.{r.randint(50, 99)}",
}

TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "data_analysis": {
        "asks": ("How should I compare {metric}-style numbers across the {city} and {project} cohorts?",
                 "Can you help me figure out why {table} volume dropped in {month}?",
                 "What's a sensible way to segment customers by {col}?",
                 "Is a {pct} lift in conversion significant with {big} users per arm?",
                 "How do I build a retention curve from the {table} data?",
                 "Why does the weekly active user count jump every {day}?",
                 "Could you sanity-check my cohort analysis for {project}?"),
        "says": ("The cohort from {month} retains about {pct} after eight weeks.",
                 "Conversion in {city} is {pct} lower than the average, mostly on mobile.",
                 "I'd look at the distribution of {col} before averaging anything.",
                 "Seasonality explains most of the dip; {month} is always slow.",
                 "The funnel for {project} loses most users at the signup form.",
                 "Use the median rather than the mean here, the {col} column is heavily skewed.",
                 "A confidence interval would say more than a single p-value for that test.",
                 "Weekly active users hover around {big} and grew {pct} since {month}.",
                 "Check whether the {table} extract double counts refunds.",
                 "Bootstrap the difference a few thousand times to get an interval.",
                 "The sample ratio looks off, so check the assignment before reading the results.",
                 "Segmenting by {col} shows the effect comes almost entirely from new users.",
                 "I would report the result with the baseline next to it so people see the scale."),
    },
    "pandas": {
        "asks": ("How do I pivot the {table} frame so each {col} becomes a column?",
                 "Why is my groupby on {col} so slow with {big} rows?",
                 "What's the pandas way to forward-fill missing {col} per user?",
                 "How do I merge {table} with customers without duplicating rows?",
                 "Why does read_csv turn {col} into floats?",
                 "Can you explain SettingWithCopyWarning on my {table} slice?",
                 "How do I resample {table} to weekly totals?"),
        "says": ("Use df.groupby('{col}', observed=True) so categorical groups that are empty are skipped.",
                 "pd.merge with validate='many_to_one' will raise if the {table} keys are not unique.",
                 "Convert {col} to category first; it cuts memory by about {pct}.",
                 "df.pivot_table(index='{col}', columns='channel', values='amount', aggfunc='sum') does it in one go.",
                 "The warning means you are assigning into a view; use .loc on the original frame.",
                 "df.resample('W', on='created_at').sum() gives weekly totals if the column is a datetime.",
                 "Pass parse_dates=['created_at'] to read_csv so you don't convert it later.",
                 "The {table} frame has {big} rows, so avoid apply with a Python function per row.",
                 "Use .pipe() to chain the cleaning steps, it keeps the notebook readable.",
                 "ffill inside groupby('user_id') keeps values from leaking across users.",
                 "Reading only the columns you need from parquet is much faster than read_csv.",
                 "value_counts(normalize=True) gives the shares directly.",
                 "Nullable integer dtype Int64 keeps {col} as integers even with missing values."),
    },
    "plotting": {
        "asks": ("How do I make a {chart} of {col} by month with matplotlib?",
                 "Why are the tick labels overlapping on my {chart}?",
                 "Can {lib} do an interactive {chart} that works in the notebook?",
                 "How do I put two y-axes on the same chart?",
                 "What's the best chart for showing the {project} funnel?",
                 "How do I save the figure without the white border?"),
        "says": ("fig.autofmt_xdate() rotates the date labels so they stop overlapping.",
                 "A {chart} works better than a pie chart when there are more than four categories.",
                 "Use ax.twinx() for a second y-axis, but label both clearly.",
                 "seaborn's FacetGrid gives you one small chart per {col}.",
                 "Set the figure size to (10, 4) for charts that go into slides.",
                 "plotly express makes the {chart} interactive with one call.",
                 "Annotate the last point of each line instead of using a legend.",
                 "Sort the bars by value, it makes the {chart} much easier to read.",
                 "Start the y-axis at zero for bar charts, or the differences look exaggerated.",
                 "For the {project} funnel a horizontal bar chart reads best.",
                 "Too many colours make the chart noisy; highlight one series and grey out the rest.",
                 "plt.tight_layout() fixes most of the clipping around the labels."),
    },
    "sql": {
        "asks": ("How do I get the latest row per user from {table} in SQL?",
                 "Why is my join between {table} and customers returning too many rows?",
                 "Can you write a query for monthly active users from {table}?",
                 "What's the difference between a LEFT JOIN and NOT EXISTS here?",
                 "How do I compute a running total of {col} in Postgres?",
                 "Why does this query do a sequential scan on {table}?"),
        "says": ("Use ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY created_at DESC) and keep row 1.",
                 "SUM({col}) OVER (ORDER BY created_at) gives the running total.",
                 "The join fans out because {table} has several rows per customer.",
                 "COUNT(DISTINCT user_id) grouped by date_trunc('month', created_at) gives monthly actives.",
                 "NOT EXISTS is usually clearer and just as fast as a LEFT JOIN with IS NULL.",
                 "An index on ({col}, created_at) would let Postgres skip the scan on {table}.",
                 "Run EXPLAIN ANALYZE and look at the row estimates versus actual rows.",
                 "CTEs are fine in Postgres 12 and later; they are inlined unless you say MATERIALIZED.",
                 "Cast the timestamp to a date before grouping or every second gets its own row.",
                 "The {table} table has {big} rows, so filter on the partition column first.",
                 "COALESCE the nulls before summing {col}, otherwise the totals look low.",
                 "Vacuum and analyze {table} after the big backfill so the planner has fresh stats."),
    },
    "devops": {
        "asks": ("Why did the {service} deploy to {env} fail?",
                 "How do we roll back {service} quickly?",
                 "Can you check the Terraform plan for the {project} {env} stack?",
                 "Why is the CI pipeline for {project} taking {n} minutes?",
                 "What should the alert threshold be for {service} latency?",
                 "How do I rotate the database credentials for {env}?"),
        "says": ("The {service} deploy failed its readiness check after {n} seconds.",
                 "Roll back with the previous image tag; the pipeline keeps the last five.",
                 "The Terraform plan for {project} wants to replace the {env} load balancer, which would mean downtime.",
                 "Caching the Docker layers would cut the CI time for {project} roughly in half.",
                 "p99 latency for {service} is around {ms}, so alert at twice that.",
                 "The on-call runbook for {service} is in the ops wiki.",
                 "Blue-green deploys for {service} would make the rollback instant.",
                 "The {env} certificates renew automatically through cert-manager.",
                 "Grafana shows the error rate for {service} climbing right after the deploy.",
                 "Put the database credentials in the secrets manager and rotate them every {n} days.",
                 "The Kafka consumer lag for {service} went up to {big} messages during the incident.",
                 "Postgres on {env} runs on version {version} with a hot standby.",
                 "Incident review for the {service} outage is on {day}."),
    },
    "kubernetes": {
        "asks": ("Why is the {service} pod stuck in CrashLoopBackOff?",
                 "How many replicas should {service} have in {env}?",
                 "Can you explain requests versus limits for {service}?",
                 "Why does the HPA for {service} never scale up?",
                 "How do I get the logs of a pod that was OOMKilled?",
                 "Which namespace is {service} in on the {env} cluster?"),
        "says": ("kubectl logs --previous shows the output of the container before it restarted.",
                 "The {service} pod is OOMKilled because its limit is lower than its peak usage.",
                 "Requests are what the scheduler reserves, limits are where the kubelet stops the container.",
                 "The HPA needs the metrics server; without it {service} never scales.",
                 "Run {n} replicas of {service} in {env} with a PodDisruptionBudget of one.",
                 "Helm upgrade with --atomic rolls back by itself if the release fails.",
                 "kubectl describe pod shows the events, including failed image pulls.",
                 "The {env} cluster runs Kubernetes {version} on managed nodes.",
                 "Use a readiness probe on /healthz so traffic waits for {service} to warm up.",
                 "Node pressure on the {env} cluster evicted some {service} pods overnight.",
                 "The ingress for {service} terminates TLS and forwards to port 8080.",
                 "Namespaces per team keep the RBAC rules simple.",
                 "A CronJob runs the {table} cleanup every night on the {env} cluster."),
    },
    "cloud_costs": {
        "asks": ("Why did our {cloud} spend go up {pct} in {month}?",
                 "Which {project} resources are the most expensive?",
                 "Should we buy reserved capacity for the {env} databases?",
                 "How do I tag resources so the cost report splits by team?",
                 "Are the NAT gateway charges normal for {project}?",
                 "How much would moving {service} to spot save?"),
        "says": ("{cloud} was {usd} last month, about {pct} of the total bill.",
                 "Idle {env} instances over the weekend cost us around {usd}.",
                 "Tag every resource with team and project so Cost Explorer can group them.",
                 "The NAT gateway charges come from pulling images through it on every deploy.",
                 "Moving {service} to spot would save about {pct}, if it tolerates interruptions.",
                 "Rightsizing the {env} databases would save more than reserving them.",
                 "Set a budget alert at {usd} for the {project} account.",
                 "Storage snapshots from {month} are still around and cost {usd} a month.",
                 "Data transfer between availability zones is billed both ways.",
                 "The cost anomaly detector flagged {cloud} in {region} on {day}.",
                 "Turning off the {env} cluster at night cut {cloud} spend by {pct}.",
                 "CloudWatch log ingestion is surprisingly expensive; lower the retention for debug logs."),
    },
    "ml_training": {
        "asks": ("Why is the validation {metric} of the {model} worse than the baseline?",
                 "How do I tune the learning rate for the {model}?",
                 "Should I use early stopping for the {project} model?",
                 "Why does training loss go to NaN after {n} epochs?",
                 "How do I deal with the class imbalance in the {project} labels?",
                 "How many epochs should the {model} train for?"),
        "says": ("The {model} reached a validation {metric} of {float} on the holdout set.",
                 "Use a learning rate finder before a long run; the loss curve tells you the range.",
                 "Early stopping with patience {n} avoids the overfitting we saw last time.",
                 "NaN loss usually means the learning rate is too high or there's a log of zero.",
                 "Class weights or focal loss help with the imbalance in the {project} labels.",
                 "Training the {model} takes about {n} minutes per epoch on one GPU.",
                 "Gradient clipping at 1.0 stabilised the {model}.",
                 "Keep the {project} validation split by time, not random, or the results leak.",
                 "The {model} overfits after epoch {n}; add dropout or more data.",
                 "Mixed precision halves the memory use with no loss in {metric}.",
                 "Log every run to the experiment tracker with its config and git hash.",
                 "A k-fold cross-validation gives a more honest {metric} on small data.",
                 "Feature importance for the {model} puts {col} at the top."),
    },
    "debugging": {
        "asks": ("I'm getting a {error} in {service}, any idea why?",
                 "Why does this only fail in {env} and not locally?",
                 "How do I debug a test that passes alone but fails in the suite?",
                 "What does this traceback from the {table} loader mean?",
                 "Why is {service} leaking memory over a day?",
                 "How can I reproduce the {error} from the logs?"),
        "says": ("The {error} comes from the line that reads the {col} field without checking it exists.",
                 "It fails in {env} because the environment variable is not set there.",
                 "A test that only fails in the suite usually depends on state left by another test.",
                 "Run pytest with -p no:randomly to see if the order matters.",
                 "tracemalloc snapshots an hour apart will show what keeps growing in {service}.",
                 "Add a breakpoint() right before the call and inspect the arguments.",
                 "The stack trace points at line {line} of loader.py, inside the retry loop.",
                 "Logging the request id makes it possible to follow one failure across services.",
                 "The bug only shows up with non-ASCII names, so the encoding is the suspect.",
                 "pip freeze differs between {env} and local; the {lib} version is older there.",
                 "The race goes away with one worker, so two threads share the connection.",
                 "faulthandler.enable() prints the Python stack when the process crashes.",
                 "The {error} started after the upgrade to {lib} {version}."),
    },
    "planning": {
        "asks": ("Can you draft a plan for the {project} migration?",
                 "What are the risks for the {project} launch?",
                 "How should we split the {project} work between {person} and {person}?",
                 "What should go into the {project} roadmap for next quarter?",
                 "Can you turn these notes into milestones for {project}?",
                 "Is the {project} timeline realistic with {n} engineers?"),
        "says": ("Milestone one for {project} is the data model, due end of {month}.",
                 "The biggest risk is the dependency on the {service} team.",
                 "{person} takes the backend and {person} the frontend for {project}.",
                 "We should cut scope rather than move the {project} date.",
                 "The {project} roadmap has three themes: reliability, exports and onboarding.",
                 "Estimate the {project} work in weeks, not story points, for the steering group.",
                 "A pilot with {n} customers before the full rollout lowers the risk.",
                 "{person} will write the RFC for {project} by {day}.",
                 "The {project} timeline assumes {n} engineers and no on-call load.",
                 "Track the {project} risks in the register with an owner each.",
                 "The next planning session for {project} is on {day}.",
                 "Dependencies on {project} should be raised at the steering meeting."),
    },
    "meetings": {
        "asks": ("Can you summarise the {project} sync notes?",
                 "What were the action items from {day}'s standup?",
                 "Can you draft an agenda for the {project} retro?",
                 "Who should attend the {project} kickoff?",
                 "Can you write a short recap email of the meeting with {person}?",
                 "When is the next all-hands?"),
        "says": ("Action items: {person} updates the dashboard, {person} follows up with legal.",
                 "The {project} sync moved to {day} at {hour}.",
                 "Retro agenda: what went well, what didn't, and one thing to try next sprint.",
                 "{person} presented the {project} metrics; everyone agreed to revisit them in {month}.",
                 "The kickoff needs product, design, the tech lead and someone from support.",
                 "Standup ran long again, so we will move discussions to after the round.",
                 "The all-hands is on the first {day} of the month.",
                 "Meeting notes for {project} live in the team wiki.",
                 "{person} will send the recap by end of day.",
                 "We agreed to keep the {project} weekly to thirty minutes.",
                 "Decision log: {person} owns the follow-up with the {service} team."),
    },
    "travel": {
        "asks": ("What's the best way to get from the airport to the centre of {city}?",
                 "Can you suggest a three-day itinerary for {city}?",
                 "Do I need a visa for a week in {city}?",
                 "What should I pack for {city} in {month}?",
                 "Which neighbourhood in {city} is good for food?",
                 "How early should I book trains in {month}?"),
        "says": ("The train from the airport to central {city} takes about {n} minutes.",
                 "Day one in {city}: old town walk, a market lunch and a museum in the afternoon.",
                 "In {month} {city} can be rainy, so pack a light jacket.",
                 "Book the popular restaurants in {city} a week ahead.",
                 "A transit day pass in {city} costs about {eur}.",
                 "The flight back from {city} leaves at {hour}.",
                 "Travel insurance covers the cancellation if it's booked before the trip.",
                 "The museum in {city} is closed on {day}.",
                 "Check-in at the {city} apartment opens at {hour}.",
                 "Trains in {month} are cheaper if you book a month ahead.",
                 "Take cash for the small restaurants in {city}; not all take cards."),
    },
    "cooking": {
        "asks": ("How do I make {dish} for {n} people?",
                 "What can I use instead of cream in {dish}?",
                 "Why did my {dish} turn out bland?",
                 "Can you give me a weeknight version of {dish}?",
                 "How long does {dish} keep in the fridge?",
                 "What wine goes with {dish}?"),
        "says": ("For {dish} for {n} people, double the base recipe and add ten minutes.",
                 "Coconut milk or cashew cream work instead of cream in {dish}.",
                 "Salt early and taste at the end; bland {dish} is usually under-salted.",
                 "Toast the spices in oil first, it makes {dish} much deeper.",
                 "{dish} keeps three days in the fridge in a closed container.",
                 "A dry white goes well with {dish}.",
                 "Prep everything before you start; {dish} moves fast once the pan is hot.",
                 "Let the dough rest for {n} minutes before shaping.",
                 "A squeeze of lemon at the end lifts {dish}.",
                 "Brown the onions slowly for at least {n} minutes.",
                 "Freeze leftover {dish} in portions for lunches."),
    },
    "finance": {
        "asks": ("How much should I put into savings each month?",
                 "Should I pay off the car loan early or invest?",
                 "Can you help me make a budget for {month}?",
                 "Is it worth switching to a cheaper bank account?",
                 "How do I track spending by category?",
                 "How should I split investments between bonds and stocks?"),
        "says": ("Groceries came to {eur} in {month}, a bit over the budget.",
                 "Paying off debt above {pct} interest usually beats investing.",
                 "A simple budget: needs, wants and savings, reviewed every month.",
                 "The bank charges a monthly fee of {eur} for the current account.",
                 "Export the bank transactions to CSV and tag them by category.",
                 "Rent went up by {pct} this year.",
                 "The car insurance renewal quote is {eur} a year.",
                 "Automatic transfers on payday make saving easier.",
                 "A broad index fund is cheaper than picking single stocks.",
                 "Subscriptions add up to {eur} a month; cancel the ones not used.",
                 "Keep the receipts for anything work-related."),
    },
    "health": {
        "asks": ("How do I build up to running {n} km?",
                 "What's a good routine for lower back pain?",
                 "How much sleep do I actually need?",
                 "Can you suggest a simple meal plan with more protein?",
                 "Why am I so tired in the afternoon?",
                 "How often should I do strength training?"),
        "says": ("Increase the weekly running distance by about ten percent at most.",
                 "Core work and hip mobility help most with lower back pain.",
                 "Most adults do best with seven to nine hours of sleep.",
                 "Add eggs, beans or yoghurt to breakfast for more protein.",
                 "The afternoon slump is often about a heavy lunch and little light.",
                 "Strength training twice a week is a good start.",
                 "The doctor's appointment is on {day} at {hour}.",
                 "Drink water before coffee in the morning.",
                 "Stretch after the run, not before.",
                 "The blood test results come back in {n} days.",
                 "Walking {n} minutes after dinner helps with sleep."),
    },
}
ACKS = ("thanks, that worked for the {project} case", "ok, trying that on {table} now", "perfect, thank you {person}",
        "hmm, still getting the {error}", "got it, makes sense for {project}", "can you make that shorter?",
        "nice, the {chart} looks much better", "that fixed {service}, thanks", "great, I'll tell {person}",
        "one more thing about {project}", "not quite, the {col} values are still off")
TRACEBACK = ("Traceback (most recent call last):\n  File \"/srv/{service}/app/loader.py\", line {line}, in load\n"
             "    rows = read_batch(conn, '{table}')\n  File \"/srv/{service}/app/db.py\", line {line}, in read_batch\n"
             "    return [row['{col}'] for row in cursor]\n{error}: '{col}'")
OPENERS = ("", "", "", "FYI: ", "Quick note: ", "Btw, ", "For the record, ", "Note to self: ", "Heads up: ")

# -- notebooks: themes, markdown and code cell templates ---------------------------------------------------------------
NOTEBOOK_THEMES = ("data_analysis", "pandas", "plotting", "sql", "ml_training")
CODE: dict[str, tuple[str, ...]] = {
    "data_analysis": ("cohort = df[df['signup_date'].dt.month == {m}]\nretention = cohort.groupby('week')['user_id']"
                      ".nunique() / cohort['user_id'].nunique()\nretention.head({n})",
                      "from scipy import stats\nstat, p = stats.ttest_ind(a['{col}'], b['{col}'], equal_var=False)\n"
                      "print(f'p = {{p:.4f}}')",
                      "summary = df.groupby('{col}').agg(users=('user_id', 'nunique'), revenue=('amount', 'sum'))\n"
                      "summary.sort_values('revenue', ascending=False).head({n})",
                      "funnel = events.pivot_table(index='user_id', columns='step', values='ts', aggfunc='min')\n"
                      "funnel.notna().mean().round(3)",
                      "boot = [df.sample(frac=1, replace=True)['{col}'].mean() for _ in range({big})]\n"
                      "np.percentile(boot, [2.5, 97.5])",
                      "wau = df.set_index('created_at').resample('W')['user_id'].nunique()\nwau.tail({n})"),
    "pandas": ("df = pd.read_csv('data/{table}.csv', parse_dates=['created_at'])\ndf.shape",
               "df['{col}'] = df['{col}'].astype('category')\ndf.memory_usage(deep=True).sum() / 1e6",
               "merged = {table}.merge(customers, on='customer_id', how='left', validate='many_to_one')\n"
               "merged.isna().mean()",
               "df = df.drop_duplicates(subset=['{col}', 'created_at'])\nlen(df)",
               "weekly = df.resample('W', on='created_at')['amount'].sum()\nweekly.describe()",
               "df['{col}'] = df.groupby('user_id')['{col}'].ffill()\ndf['{col}'].isna().sum()",
               "wide = df.pivot_table(index='{col}', columns='channel', values='amount', aggfunc='sum', "
               "fill_value=0)\nwide.head({n})",
               "df.query('amount > {n} and country == \"PT\"').shape"),
    "plotting": ("fig, ax = plt.subplots(figsize=(10, 4))\ndf.groupby('month')['{col}'].sum().plot(ax=ax)\n"
                 "ax.set_title('{title}')",
                 "sns.histplot(df, x='{col}', bins={n}, ax=ax)\nax.set_xlabel('{col}')",
                 "fig = px.line(weekly, x='created_at', y='amount', color='channel', title='{title}')\nfig.show()",
                 "ax = df['{col}'].value_counts().head({n}).plot.barh()\nax.invert_yaxis()",
                 "g = sns.FacetGrid(df, col='{col}', col_wrap=3)\ng.map_dataframe(sns.scatterplot, x='amount', "
                 "y='discount')",
                 "fig.savefig('figures/{table}_{col}.png', bbox_inches='tight')"),
    "sql": ("query = '''\nSELECT date_trunc('month', created_at) AS month, COUNT(DISTINCT user_id) AS users\n"
            "FROM {table}\nGROUP BY 1 ORDER BY 1\n'''\nmonthly = pd.read_sql(query, engine)",
            "pd.read_sql('SELECT {col}, SUM(amount) FROM {table} GROUP BY {col} LIMIT {n}', engine)",
            "latest = pd.read_sql('''\nSELECT * FROM (\n  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY "
            "created_at DESC) AS rn\n  FROM {table}) t WHERE rn = 1\n''', engine)",
            "%%sql\nEXPLAIN ANALYZE SELECT * FROM {table} WHERE {col} = {n}",
            "counts = duckdb.sql(\"SELECT {col}, count(*) FROM '{table}.parquet' GROUP BY ALL\").df()"),
    "ml_training": ("X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.{n2}, stratify=y, "
                    "random_state={n})",
                    "clf = LogisticRegression(max_iter={big}, class_weight='balanced')\nclf.fit(X_train, y_train)",
                    "scores = cross_val_score(model, X, y, cv={k}, scoring='roc_auc')\nscores.mean(), scores.std()",
                    "pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators={big}))\n"
                    "pipe.fit(X_train, y_train)",
                    "importances = pd.Series(model.feature_importances_, index=X.columns).nlargest({n})",
                    "for epoch in range({n}):\n    loss = train_one_epoch(model, loader, optimizer)\n"
                    "    print(epoch, round(loss, 4))"),
}
TITLES = ("Revenue by month", "Weekly active users", "Orders per channel", "Churn by cohort", "Basket size",
          "Signups per day", "Refund rate")
HEADINGS = ("## Load the data", "## Clean up", "## Explore", "## Results", "## Next steps", "### Sanity checks",
            "## Model", "## Evaluation", "### Charts", "## Setup", "## Queries")


@dataclass
class Corpus:
    """What `build` wrote: counts, the files and the planted facts."""

    directory: Path
    seed: int
    messages: int
    cells: int
    facts: int
    questions_path: Path
    chat_files: list[Path] = field(default_factory=list)
    notebooks: list[Path] = field(default_factory=list)


class Writer:
    """Fills templates from the slots with one seeded Random, and refuses any text that would leak an answer."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()
        self.forbidden = [s.lower() for f in FACTS for s in (f.answer, f.key)]

    def fill(self, template: str) -> str:
        """The template with every {slot} replaced by a random value of its kind."""
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in SLOTS:
                return self.rng.choice(SLOTS[name])
            if name in NUMBERS:
                return NUMBERS[name](self.rng)
            return {"m": str(self.rng.randint(1, 12)), "n2": str(self.rng.randint(1, 3)), "k": str(
                self.rng.choice((3, 5, 10))), "title": self.rng.choice(TITLES)}[name]
        return re.sub(r"\{(\w+)\}", value, template).replace("{{", "{").replace("}}", "}")

    def clean(self, text: str) -> bool:
        """No answer and no key of any fact in it."""
        low = text.lower()
        return not any(s in low for s in self.forbidden)

    def unique(self, make: Callable[[], str]) -> str:
        """A text from `make` that is new and leaks no answer (ids are content hashes: a repeat would be one item)."""
        for _ in range(200):
            text = make()
            if text not in self.seen and self.clean(text):
                self.seen.add(text)
                return text
        raise RuntimeError("the templates ran out of fresh texts")

    def sentences(self, topic: str, count: int) -> list[str]:
        bank = TOPICS[topic]["says"]
        return [self.fill(t) for t in self.rng.sample(bank, min(count, len(bank)))]

    def paragraph(self, topic: str) -> str:
        return " ".join(self.sentences(topic, self.rng.randint(2, 5)))

    def user(self, topic: str) -> str:
        """A user turn: a one-line question, an acknowledgement, or context plus a question."""
        r = self.rng.random()
        ask = self.fill(self.rng.choice(TOPICS[topic]["asks"]))
        if r < 0.1:
            return self.fill(self.rng.choice(ACKS))
        if topic == "debugging" and r < 0.35:
            return f"{ask}\n\n{self.fill(TRACEBACK)}"
        if r < 0.65:
            return ask
        return f"{' '.join(self.sentences(topic, self.rng.randint(1, 3)))} {ask}"

    def assistant(self, topic: str) -> str:
        """An assistant turn: one or two sentences, a paragraph, or several paragraphs."""
        r = self.rng.random()
        if r < 0.3:
            return " ".join(self.sentences(topic, self.rng.randint(1, 2)))
        if r < 0.85:
            return self.paragraph(topic)
        return "\n\n".join(self.paragraph(topic) for _ in range(self.rng.randint(2, 3)))

    def host(self, topic: str, sentence: str) -> str:
        """`sentence` inside an ordinary message of its topic: alone, with a line of context, or in a paragraph."""
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(OPENERS) + sentence
        if r < 0.55:
            return f"{sentence} {self.fill(self.rng.choice(TOPICS[topic]['asks']))}"
        before, after = self.sentences(topic, self.rng.randint(0, 2)), self.sentences(topic, self.rng.randint(1, 3))
        return " ".join([*before, sentence, *after])

    def planted(self, topic: str, sentence: str) -> str:
        """`host` for a fact: the text around the fact must leak no answer either."""
        for _ in range(200):
            text = self.host(topic, sentence)
            if text not in self.seen and self.clean(text.replace(sentence, "")):
                self.seen.add(text)
                return text
        raise RuntimeError(f"no clean host for {sentence!r}")


# -- chat logs -------------------------------------------------------------------------------------------------------
@dataclass
class Turn:
    session: str
    agent: str
    topic: str
    role: str
    timestamp: float
    text: str = ""


def _plan(rng: random.Random, count: int) -> list[Turn]:
    """The conversation skeleton: sessions of 4-16 alternating turns, each on one topic, spread over six months."""
    turns: list[Turn] = []
    topics = sorted(TOPICS)
    number = 0
    while len(turns) < count:
        number += 1
        topic, agent = rng.choice(topics), rng.choice(AGENTS)
        t = START + rng.random() * SPAN_DAYS * 86400
        for i in range(rng.randint(4, 16)):
            t += rng.randint(20, 900)
            turns.append(Turn(f"s{number:04d}", agent, topic, ("user", "assistant")[i % 2], round(t, 3)))
    return turns[:count]


def _plant(rng: random.Random, turns: list[Turn], writer: Writer) -> None:
    """Each message fact and each of its distractors goes into its own turn of a session on the fact's topic."""
    free: dict[str, list[int]] = {}
    for i, turn in enumerate(turns):
        free.setdefault(turn.topic, []).append(i)
    for pool in free.values():
        rng.shuffle(pool)
    for fact in FACTS:
        if fact.where != "message":
            continue
        turns[free[fact.topic].pop()].text = writer.planted(fact.topic, fact.text)
        for distractor in fact.distractors:
            turns[free[fact.topic].pop()].text = writer.unique(lambda: writer.host(fact.topic, distractor))


def _chats(directory: Path, rng: random.Random, writer: Writer, count: int) -> list[Path]:
    turns = _plan(rng, count)
    _plant(rng, turns, writer)
    files: dict[Path, list[str]] = {}
    for number, turn in enumerate(turns):
        if not turn.text:
            make = writer.user if turn.role == "user" else writer.assistant
            turn.text = writer.unique(lambda: make(turn.topic))
        month = time.strftime("%Y-%m", time.gmtime(turn.timestamp))
        record = {"role": turn.role, "content": turn.text, "timestamp": turn.timestamp, "session": turn.session,
                  "agent": turn.agent, "id": f"m{number:05d}"}
        files.setdefault(directory / "chats" / turn.agent / f"{month}.jsonl", []).append(json.dumps(record))
    for path, lines in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sorted(files)


# -- notebooks -------------------------------------------------------------------------------------------------------
def _code_cell(writer: Writer, theme: str) -> str:
    return writer.unique(lambda: writer.fill(writer.rng.choice(CODE[theme])))


def _markdown_cell(writer: Writer, theme: str) -> str:
    def make() -> str:
        if writer.rng.random() < 0.3:
            return f"{writer.rng.choice(HEADINGS)}\n\n{writer.sentences(theme, 1)[0]}"
        return writer.paragraph(theme)
    return writer.unique(make)


def _fact_cell(writer: Writer, fact: Fact, text: str) -> str:
    """A cell that carries `text` (a fact or a distractor) among ordinary lines of its kind."""
    if fact.where == "code":
        return writer.unique(lambda: f"{_code_cell(writer, _theme(fact.topic))}\n{text}")
    return writer.unique(lambda: writer.host(fact.topic, text))


def _theme(topic: str) -> str:
    return topic if topic in CODE else "data_analysis"


def _notebooks(directory: Path, rng: random.Random, writer: Writer, count: int) -> list[Path]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    cells: list[tuple[str, str, str]] = []  # (theme, cell_type, source)
    for fact in FACTS:
        if fact.where == "message":
            continue
        kind = "code" if fact.where == "code" else "markdown"
        source = (writer.planted(fact.topic, fact.text) if kind == "markdown"
                  else f"{_code_cell(writer, _theme(fact.topic))}\n{fact.text}")
        cells.append((_theme(fact.topic), kind, source))
        cells += [(_theme(fact.topic), kind, _fact_cell(writer, fact, d)) for d in fact.distractors]
    while len(cells) < count:
        theme = rng.choice(NOTEBOOK_THEMES)
        if rng.random() < 0.6:
            cells.append((theme, "code", _code_cell(writer, theme)))
        else:
            cells.append((theme, "markdown", _markdown_cell(writer, theme)))
    cells = cells[:count]
    rng.shuffle(cells)
    paths = []
    for t, theme in enumerate(NOTEBOOK_THEMES):
        mine = [c for c in cells if c[0] == theme]
        for part in range(0, len(mine), 60):
            name = f"{theme}-{part // 60 + 1:02d}"
            nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                       "language": "python"}})
            for i, (_, kind, source) in enumerate(mine[part:part + 60]):
                make = new_code_cell if kind == "code" else new_markdown_cell
                nb.cells.append(make(source, id=f"{name}-{i:03d}"))
            path = directory / "notebooks" / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
            paths.append(path)
    return paths


# -- questions, notes and queries ------------------------------------------------------------------------------------
def questions() -> list[dict[str, str]]:
    """The planted facts as recall questions: id, question, hard (a harder paraphrase), key (look for it in a hit),
    answer, topic, where."""
    return [{"id": f.id, "question": f.question, "hard": f.hard, "key": f.key, "answer": f.answer,
             "topic": f.topic, "where": f.where} for f in FACTS]


def notes(count: int, seed: int = 7) -> Iterator[str]:
    """`count` distinct short notes on the corpus topics, none with an answer: filler that grows the store."""
    writer = Writer(random.Random(seed * 1_000_003 + 1))
    topics = sorted(TOPICS)
    for i in range(count):
        topic = topics[i % len(topics)]
        yield writer.unique(lambda: " ".join(writer.sentences(topic, writer.rng.randint(1, 3))))


def queries(count: int, seed: int = 7) -> list[str]:
    """`count` varied search queries: the planted questions first, then user questions on every topic."""
    writer = Writer(random.Random(seed * 1_000_003 + 2))
    out = [f.question for f in FACTS][:count]
    topics = sorted(TOPICS)
    while len(out) < count:
        topic = topics[len(out) % len(topics)]
        out.append(writer.unique(lambda: writer.fill(writer.rng.choice(TOPICS[topic]["asks"]))))
    return out


def build(directory: str | Path, seed: int = 7, *, messages: int = MESSAGES, cells: int = CELLS) -> Corpus:
    """Write the corpus into `directory` (created if needed); the same seed writes the same bytes."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    writer = Writer(rng)
    chat_files = _chats(directory, rng, writer, messages)
    notebooks = _notebooks(directory, rng, writer, cells)
    questions_path = directory / "questions.json"
    questions_path.write_text(json.dumps(questions(), indent=1) + "\n", encoding="utf-8")
    return Corpus(directory, seed, messages, cells, len(FACTS), questions_path, chat_files, notebooks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--cells", type=int, default=CELLS)
    args = parser.parse_args()
    corpus = build(args.directory, args.seed, messages=args.messages, cells=args.cells)
    print(f"{corpus.messages} messages in {len(corpus.chat_files)} JSONL files, {corpus.cells} cells in "
          f"{len(corpus.notebooks)} notebooks, {corpus.facts} planted facts -> {corpus.questions_path}")


if __name__ == "__main__":
    main()
