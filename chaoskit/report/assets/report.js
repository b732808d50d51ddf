/* chaoskit report: draws the embedded results with DOM calls only.
 *
 * Safety rules (the report must never execute what it shows):
 * - every piece of data reaches the page through createTextNode/textContent;
 * - attributes are set with setAttribute from an allow-list, never with data-chosen names;
 * - links only point at the page's own generated anchors;
 * - no HTML strings are ever parsed: no innerHTML, outerHTML, insertAdjacentHTML,
 *   document.write, eval or Function constructors.
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var HTML_ATTRS = new Set([
    "class", "id", "title", "colspan", "scope", "type", "value", "role", "aria-label",
    "open", "selected", "checked", "href", "for", "aria-selected"
  ]);
  var SVG_ATTRS = new Set([
    "class", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "width", "height",
    "viewBox", "points", "text-anchor", "role", "aria-label", "dy"
  ]);
  var INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
  var STATUS_WORD = {
    held: "held", violated: "violated", unknown: "unknown",
    not_exercised: "not exercised", error: "error", interrupted: "interrupted"
  };

  var DATA = JSON.parse(document.getElementById("chaoskit-data").textContent);
  var RUN = DATA.run;
  var STATS = DATA.stats;
  var SCENARIOS = RUN.scenarios || [];
  var filterables = [];

  // --- DOM helpers --------------------------------------------------------------------------

  function setAttrs(node, attrs, allowed) {
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (!allowed.has(name)) throw new Error("chaoskit report: attribute not allowed: " + name);
      if (name === "href" && !/^#[a-z0-9-]+$/.test(String(value))) {
        throw new Error("chaoskit report: only local anchors may be linked");
      }
      node.setAttribute(name, value === true ? "" : String(value));
    });
  }

  function append(node, children) {
    if (children === null || children === undefined || children === false) return node;
    if (Array.isArray(children)) {
      children.forEach(function (child) { append(node, child); });
    } else if (typeof children === "string" || typeof children === "number") {
      node.appendChild(document.createTextNode(String(children)));
    } else {
      node.appendChild(children);
    }
    return node;
  }

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs, HTML_ATTRS);
    return append(node, children);
  }

  function s(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs, SVG_ATTRS);
    return append(node, children);
  }

  /** Text from the data, with invisible and control characters made visible. */
  function show(text) {
    return String(text === null || text === undefined ? "" : text).replace(INVISIBLE, function (c) {
      var code = c.charCodeAt(0);
      if (code < 32) return String.fromCharCode(0x2400 + code);
      if (code === 127) return "\u2421";
      return "\u27e6U+" + code.toString(16).toUpperCase().padStart(4, "0") + "\u27e7";
    });
  }

  /** A user-data span isolated from the surrounding text direction. */
  function u(text, cls) {
    return h("bdi", { class: cls || null }, show(text));
  }

  function clip(text, n) {
    var shown = show(text);
    return shown.length > n ? shown.slice(0, n - 1) + "\u2026" : shown;
  }

  /** Long data text: the first n characters and a button that shows the rest. */
  function longText(text, n, cls) {
    var full = show(text);
    var span = h("bdi", { class: cls || null }, full.length > n ? full.slice(0, n) : full);
    if (full.length <= n) return span;
    var more = h("button", { type: "button", class: "more" }, "show all " + full.length + " characters");
    more.addEventListener("click", function () { span.textContent = full; more.remove(); });
    return h("span", null, [span, " ", more]);
  }

  function badge(status) {
    return h("span", { class: "badge st-" + status }, STATUS_WORD[status] || status);
  }

  function seconds(value) {
    var v = Number(value || 0);
    return (Math.round(v * 1000) / 1000) + " s";
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function register(node, item) {
    item.node = node;
    filterables.push(item);
    return node;
  }

  // --- data helpers -------------------------------------------------------------------------

  function isExpectation(name) {
    return String(name).indexOf("expect: ") === 0;
  }

  /** The matrix's columns: one per invariant, and one for all of a scenario's expectations. */
  function matrixColumns() {
    var names = allInvariants();
    var columns = names.filter(function (n) { return !isExpectation(n); }).map(function (n) {
      return { key: n, label: n, title: n, names: [n] };
    });
    var expected = names.filter(isExpectation);
    if (expected.length) {
      columns.push({ key: "expect", label: "expect", names: expected,
        title: "expect: the end state each scenario expects ([[expect]] tables)" });
    }
    return columns;
  }

  function showsColumn(key, invariant) {
    return invariant === null || key === invariant || (key === "expect" && isExpectation(invariant));
  }

  function agentLabel(sc) {
    return h("span", { class: "agent", title: show(sc.agent) }, u(sc.agent_label || sc.agent));
  }

  function allInvariants() {
    var seen = [];
    SCENARIOS.forEach(function (sc) {
      (sc.invariants || []).forEach(function (inv) {
        if (seen.indexOf(inv.invariant) < 0) seen.push(inv.invariant);
      });
    });
    return seen;
  }

  function invariantNames(sc) {
    return new Set((sc.invariants || []).map(function (inv) { return inv.invariant; }));
  }

  function violatedNames(sc) {
    return new Set((sc.invariants || []).filter(function (inv) {
      return inv.status === "violated";
    }).map(function (inv) { return inv.invariant; }));
  }

  function requests(example) {
    return (example.trace || []).filter(function (e) { return e.kind === "request"; });
  }

  // --- page ---------------------------------------------------------------------------------

  function build() {
    var app = document.getElementById("app");
    app.textContent = "";
    append(app, [interruption(), invalidInputs(), toolbar(), statistics(), matrix(), scenarioCards()]);
    applyFilters();
    fitPictures(document);
    // Closed sections are not laid out: fit their pictures when they open (samples draw then).
    document.addEventListener("toggle", function (event) {
      setTimeout(function () { fitPictures(event.target); }, 0);
    }, true);
  }

  /** Fonts differ between machines: widen a picture whose text reaches past its right edge. */
  function fitPictures(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("svg").forEach(function (svg) {
      var box = svg.getBBox();
      var width = Number(svg.getAttribute("width"));
      var need = Math.ceil(box.x + box.width + 8);
      if (box.width && need > width) {
        svg.setAttribute("width", need);
        svg.setAttribute("viewBox", "0 0 " + need + " " + svg.getAttribute("height"));
      }
    });
  }

  function toolbar() {
    var only = h("input", { type: "checkbox", id: "f-violations" });
    var scenario = h("select", { id: "f-scenario", "aria-label": "scenario" },
      h("option", { value: "" }, "all scenarios"));
    uniqueScenarioNames().forEach(function (name, i) {
      append(scenario, h("option", { value: String(i) }, clip(name, 60)));
    });
    var invariant = h("select", { id: "f-invariant", "aria-label": "invariant" },
      h("option", { value: "" }, "all invariants"));
    allInvariants().forEach(function (name, i) {
      append(invariant, h("option", { value: String(i) }, clip(name, 60)));
    });
    [only, scenario, invariant].forEach(function (control) {
      control.addEventListener("change", applyFilters);
    });
    return h("nav", { class: "toolbar", "aria-label": "filters" }, [
      h("label", { for: "f-violations", class: "check" }, [only, " only violations"]),
      h("label", null, ["scenario ", scenario]),
      h("label", null, ["invariant ", invariant]),
      h("span", { id: "f-count", class: "muted" })
    ]);
  }

  function uniqueScenarioNames() {
    var names = [];
    SCENARIOS.forEach(function (sc) { if (names.indexOf(sc.scenario) < 0) names.push(sc.scenario); });
    return names;
  }

  function applyFilters() {
    var only = document.getElementById("f-violations").checked;
    var si = document.getElementById("f-scenario").value;
    var ii = document.getElementById("f-invariant").value;
    var scenario = si === "" ? null : uniqueScenarioNames()[Number(si)];
    var invariant = ii === "" ? null : allInvariants()[Number(ii)];
    var shown = 0;
    filterables.forEach(function (item) {
      var visible = true;
      if (item.column !== undefined) {
        visible = showsColumn(item.column, invariant);
      } else {
        if (only && item.status !== "violated") visible = false;
        if (scenario !== null && item.scenario !== scenario) visible = false;
        if (invariant !== null && !item.invariants.has(invariant)) visible = false;
        if (only && invariant !== null && !item.violated.has(invariant)) visible = false;
        if (visible && item.card) shown += 1;
      }
      item.node.hidden = !visible;
    });
    document.getElementById("f-count").textContent =
      "showing " + shown + " of " + plural(SCENARIOS.length, "scenario run");
  }

  // --- what makes the run incomplete: Ctrl-C, inputs that could not be run -------------------

  function interruption() {
    if (STATS.gate !== "interrupted") return null;
    var cut = SCENARIOS.filter(function (sc) { return sc.interrupted; });
    return h("section", { class: "panel interrupted-panel", id: "interrupted", role: "alert" }, [
      h("h2", null, "Interrupted"),
      h("p", null, "Ctrl-C stopped this run. The report holds only what finished" +
        (cut.length ? "; " + plural(cut.length, "scenario run") + " stopped part way, with " +
          "the examples that finished" : "") +
        ". Scenarios that never started are not listed. Run again to know whether the agent passes.")
    ]);
  }

  function invalidInputs() {
    var invalid = RUN.invalid || [];
    if (!invalid.length) return null;
    return h("section", { class: "panel invalid-panel", id: "invalid" }, [
      h("h2", null, "Invalid inputs"),
      h("p", { class: "muted" }, plural(invalid.length, "input") + " could not be run, so the " +
        "run fails until " + (invalid.length === 1 ? "it is" : "they are") + " fixed:"),
      h("ul", { class: "invalid-list" }, invalid.map(function (item) {
        return h("li", null, [
          u(clip(item.source, 300), "mono invalid-source"),
          h("pre", { class: "error-box" }, longText(item.message, 4000))
        ]);
      }))
    ]);
  }

  // --- statistics ---------------------------------------------------------------------------

  function statistics() {
    var cards = [
      ["scenario runs", STATS.scenarios],
      ["examples", STATS.examples],
      ["examples with faults", STATS.examples_with_faults],
      ["faults fired", STATS.faults_fired],
      ["violated", STATS.by_status.violated],
      ["not exercised", STATS.by_status.not_exercised]
    ];
    if (STATS.by_status.interrupted) cards.push(["interrupted", STATS.by_status.interrupted]);
    if (STATS.invalid) cards.push(["invalid inputs", STATS.invalid]);
    return h("section", { class: "stats", "aria-label": "statistics" }, cards.map(function (c) {
      return h("div", { class: "stat" }, [h("b", null, String(c[1])), h("span", null, c[0])]);
    }));
  }

  // --- matrix -------------------------------------------------------------------------------

  function matrix() {
    var columns = matrixColumns();
    var head = h("tr", null, h("th", { scope: "col", class: "corner" }, "scenario \u00d7 agent"));
    columns.forEach(function (col) {
      append(head, register(h("th", { scope: "col", class: "inv", title: show(col.title) },
        h("span", { class: "mono" }, clip(col.label, 34))), { column: col.key }));
    });
    if (SCENARIOS.some(hasTrials)) {
      append(head, h("th", { scope: "col", class: "inv trials-col",
        title: "pass^k over the schedules, and how many schedules passed how many of their trials" },
        h("span", { class: "mono" }, "pass^k")));
    }
    var body = h("tbody");
    SCENARIOS.forEach(function (sc, index) {
      append(body, matrixRow(sc, index, columns));
    });
    var table = h("table", { class: "matrix", id: "matrix" }, [h("thead", null, head), body]);
    return h("section", { class: "panel" }, [
      h("h2", null, "Invariants"),
      h("p", { class: "muted" }, "Each row is one scenario explored against one agent; each " +
        "cell, what an invariant says over all examples. Click a scenario to read its story."),
      h("div", { class: "scroll" }, table),
      legend()
    ]);
  }

  function matrixRow(sc, index, columns) {
    var name = h("th", { scope: "row", class: "rowhead" }, [
      h("a", { href: "#sc-" + index, class: "mono", title: show(sc.scenario) }, clip(sc.scenario, 60)),
      h("span", { class: "who" }, [agentLabel(sc), badge(sc.status)])
    ]);
    var row = h("tr", { class: "row st-row-" + sc.status }, name);
    if (sc.status === "error") {
      append(row, h("td", { class: "cell st-error", colspan: String(Math.max(1, columns.length)) },
        clip(sc.error || "error", 200)));
    } else {
      columns.forEach(function (col) { append(row, matrixCell(sc, col)); });
    }
    if (SCENARIOS.some(hasTrials) && sc.status !== "error") append(row, trialsCell(sc));
    return register(row, itemFor(sc));
  }

  var WORST = ["violated", "unknown", "held"];

  function matrixCell(sc, col) {
    var summaries = (sc.invariants || []).filter(function (inv) {
      return col.names.indexOf(inv.invariant) >= 0;
    });
    if (!summaries.length) {
      return register(h("td", { class: "cell na", title: "not part of this scenario" }, "\u2014"),
        { column: col.key });
    }
    // Several expectations share a column: it shows the worst, its title lists each.
    var summary = summaries.slice().sort(function (a, b) {
      return rank(a.status) - rank(b.status);
    })[0];
    var detail = countText(summary);
    var title = summaries.length === 1 ? show(summary.reason || "") : summaries.map(function (inv) {
      return show(inv.invariant) + ": " + (STATUS_WORD[inv.status] || inv.status) + " " + countText(inv);
    }).join("\n");
    var cell = h("td", { class: "cell st-" + summary.status, title: title }, [
      h("span", { class: "word" }, STATUS_WORD[summary.status] || summary.status),
      detail ? h("span", { class: "count" }, detail) : null
    ]);
    return register(cell, { column: col.key });
  }

  function rank(status) {
    var at = WORST.indexOf(status);
    return at < 0 ? WORST.length : at;
  }

  function countText(summary) {
    var total = (summary.held || 0) + (summary.violated || 0) + (summary.unknown || 0);
    return summary.status === "violated" ? summary.violated + " of " + total
      : summary.status === "held" ? String(summary.held)
      : summary.status === "unknown" ? summary.unknown + " of " + total : "";
  }

  function legend() {
    var statuses = ["held", "violated", "unknown", "not_exercised", "error", "interrupted"];
    return h("p", { class: "legend" }, statuses.map(function (status) { return badge(status); }));
  }

  function itemFor(sc) {
    return {
      scenario: sc.scenario, status: sc.status,
      invariants: invariantNames(sc), violated: violatedNames(sc)
    };
  }

  // --- one card per scenario run ------------------------------------------------------------

  function scenarioCards() {
    return h("section", { class: "cards" }, [h("h2", null, "Scenarios")].concat(
      SCENARIOS.map(function (sc, index) { return scenarioCard(sc, index); })));
  }

  function scenarioCard(sc, index) {
    var summary = h("summary", null, [
      badge(sc.status),
      h("span", { class: "sc-name mono" }, u(clip(sc.scenario, 120))),
      agentLabel(sc),
      h("span", { class: "muted" }, plural(sc.examples || 0, "example"))
    ]);
    var card = h("details", { class: "card st-card-" + sc.status, id: "sc-" + index,
      open: sc.status === "violated" || sc.status === "error" }, summary);
    if (sc.description) append(card, h("p", { class: "description" }, longText(sc.description, 600)));
    if (sc.source) append(card, h("p", { class: "source" }, ["source ", u(sc.source, "mono")]));
    if (sc.error) append(card, h("pre", { class: "error-box" }, longText(sc.error, 4000)));
    if (hasTrials(sc)) append(card, trialsPanel(sc));
    if (sc.counterexample) append(card, trialTabs(sc) || counterexample(sc, sc.counterexample));
    (sc.failures || []).forEach(function (ex) { append(card, counterexample(sc, ex, true)); });
    if (sc.reproduction) append(card, reproduction(sc.reproduction));
    append(card, h("div", { class: "grid2" }, [coverage(sc), sometimes(sc)]));
    append(card, [notExercised(sc), budgets(sc), samples(sc)]);
    var item = itemFor(sc);
    item.card = true;
    return register(card, item);
  }

  function reproduction(command) {
    return h("div", { class: "repro" }, [
      h("h3", null, "Reproduce"),
      h("pre", { class: "cmd" }, h("code", null, show(command)))
    ]);
  }

  // --- the counterexample told in words -----------------------------------------------------

  function counterexample(sc, ex, another) {
    var broken = (ex.verdicts || []).filter(function (v) { return v.status !== "held"; });
    var faults = ex.faults || [];
    var title = ex.findings && ex.findings.length && !broken.length
      ? "Minimal counterexample: the agent itself failed"
      : "Minimal counterexample";
    var box = h("div", { class: "story" }, [
      h("h3", null, another ? "Another failure: " + failureNames(broken, ex.findings || []) : title),
      h("p", { class: "lead" }, [
        "Asked ", h("q", null, longText(ex.message, 400)), ", agent ", u(sc.agent, "mono"),
        " broke " + plural(broken.length, "invariant") + " in world ",
        h("span", { class: "mono" }, String(ex.world_seed)), " after " +
        faultCount(ex) + (another
          ? " (the smallest example seen for this failure; shrinking kept the one above) and "
          : " (the smallest schedule shrinking found) and ") +
        seconds(ex.virtual_seconds) + " of virtual time."
      ]),
      (ex.deliveries || []).length && !decisions(ex).length ? null : faultList(decisions(ex)),
      (ex.deliveries || []).length ? deliveryList(ex.deliveries) : null,
      interleaving(ex),
      verdictList(broken),
      findingList(ex.findings || []),
      h("h4", null, "Timeline"),
      timeline(ex),
      reply(ex, broken),
      ledgers(ex)
    ]);
    return box;
  }

  function failureNames(broken, findings) {
    return broken.map(function (v) { return v.invariant; })
      .concat(findings.map(function (f) { return f.kind; })).join(", ");
  }

  // A 5xx storm is one decision that hit every call until it ended: one group, as in the
  // failure text (chaoskit.report.text.decisions); every other fault is its own.
  function decisions(ex) {
    var decided = {};
    (ex.decisions || []).forEach(function (d) {
      if (d.kind === "fault" && d.rule !== null) decided[d.call] = true;
    });
    var groups = [];
    (ex.faults || []).forEach(function (f) {
      var last = groups.length ? groups[groups.length - 1] : null;
      var storming = last && f.kind === "server_error" && last[0].kind === "server_error" &&
        f.rule === last[0].rule && !decided[f.call];
      if (storming) last.push(f); else groups.push([f]);
    });
    return groups;
  }

  function faultCount(ex) {
    var groups = decisions(ex), hit = (ex.faults || []).length;
    return groups.length === hit ? plural(hit, "fault")
      : plural(groups.length, "fault decision") + " (" + plural(hit, "call") + " hit)";
  }

  /** Two deliveries at once: the switches between them that the failure needs. */
  function interleaving(ex) {
    var decided = ex.decisions || [];
    var together = decided.some(function (d) { return d.kind === "delivery" && d.rule === "concurrent"; });
    if (!together) return null;
    var switches = decided.filter(function (d) { return d.kind === "switch" && d.rule; });
    var head = "Two deliveries of the task ran at once, interleaved with " + switches.length +
      (switches.length === 1 ? " switch" : " switches") +
      (switches.length ? ":" : " (one ran after the other).");
    return h("div", { class: "interleaving" }, [
      h("p", null, head),
      switches.length ? h("ol", { class: "faults" }, switches.map(function (d) {
        return h("li", null, [u(d.rule), " ran at call ", h("b", { class: "mono" }, "#" + d.call)]);
      })) : null
    ]);
  }

  function faultList(groups) {
    if (!groups.length) {
      return h("p", { class: "muted" }, "No fault was needed: the agent fails without any.");
    }
    return h("ol", { class: "faults" }, groups.map(function (group) {
      var f = group[0], end = group[group.length - 1];
      return h("li", null, [
        h("span", { class: "chip fault" }, u(f.kind)), " on call ",
        h("b", { class: "mono" }, "#" + f.call), " at ", h("b", null, "t=" + seconds(f.at)),
        group.length > 1 ? h("span", null, [", storming " + group.length + " calls (to #" +
          end.call + ", t=" + seconds(end.at) + ")"]) : null,
        ": ", u(f.backend, "mono"), " ", u(f.route, "mono"),
        h("span", { class: "muted" }, [" \u00b7 rule ", u(f.rule, "mono")]),
        f.detail ? h("span", { class: "muted" }, [" \u00b7 ", u(clip(f.detail, 300))]) : null
      ]);
    }));
  }

  /** The deliveries of the task, each with what ended it, and the faults that hit it. */
  function deliveryList(deliveries) {
    return h("ol", { class: "faults deliveries" }, deliveries.map(function (d) {
      return h("li", null, [
        h("span", { class: "chip" }, u(deliveryLabel(d))), " ",
        d.crashed_at !== null && d.crashed_at !== undefined
          ? h("span", null, ["killed at call ", h("b", { class: "mono" }, "#" + d.crashed_at),
            " (agent_crash): no reply"])
          : h("span", null, d.reply ? ["replied ", h("q", null, longText(d.reply.text, 200))] : "no reply")
      ]);
    }));
  }

  function verdictList(verdicts) {
    return h("div", { class: "verdicts" }, verdicts.map(function (v) {
      var evidence = alikeRuns(v.evidence || []).map(function (run) {
        var e = run[0], last = run[run.length - 1];
        if (run.length < 3) {
          return run.map(function (one) {
            return h("li", null, [h("span", { class: "chip" }, u(one.kind)), " ",
              u(one.ref, "mono"), " ", longText(one.detail, 400)]);
          });
        }
        return h("li", { class: "alike" }, [h("span", { class: "chip" }, u(e.kind)), " ",
          u(e.ref, "mono"), "\u2013", u(last.ref, "mono"), " ", longText(e.detail, 400),
          h("span", { class: "muted" }, [" \u2026 " + run.length + " alike, the last: ",
            longText(last.detail, 400)])]);
      });
      if (v.evidence_omitted) evidence.push(h("li", { class: "muted" }, "\u2026 " + v.evidence_omitted + " more"));
      return h("div", { class: "verdict" }, [
        h("div", null, [badge(v.status), " ", u(v.invariant, "mono strong")]),
        h("p", null, longText(v.explanation, 1200)),
        evidence.length ? h("ul", { class: "evidence" }, evidence) : null
      ]);
    }));
  }

  /** Consecutive evidence items that differ only in call numbers and times (a storm's calls). */
  function alikeRuns(list) {
    var runs = [];
    list.forEach(function (e) {
      var last = runs.length ? runs[runs.length - 1] : null;
      if (last && shape(last[0]) === shape(e)) last.push(e); else runs.push([e]);
    });
    return runs;
  }

  function shape(e) {
    return show(e.kind) + "\u0000" + show(e.detail).replace(/#\d+/g, "#").replace(/\bt=[\d.]+/g, "t=");
  }

  function findingList(findings) {
    if (!findings.length) return null;
    return h("div", { class: "findings" }, [h("h4", null, "Findings")].concat(findings.map(function (f) {
      return h("p", { class: "finding" }, [h("span", { class: "chip bad" }, u(f.kind)), " ",
        longText(f.message, 1200)]);
    })));
  }

  // --- ledger after, reply with the offending claim marked ----------------------------------

  function ledgers(ex) {
    var box = h("div", { class: "ledgers" }, h("h4", null, "Ledgers after the run"));
    var names = Object.keys(ex.ledgers || {});
    if (!names.length) append(box, h("p", { class: "muted" }, "No backend kept a ledger."));
    names.forEach(function (name) {
      var entries = ex.ledgers[name] || [];
      append(box, h("h5", null, [u(name, "mono"), h("span", { class: "muted" },
        " \u00b7 " + entries.length + (entries.length === 1 ? " entry" : " entries"))]));
      if (entries.length) append(box, ledgerTable(entries));
      var omitted = (ex.ledgers_omitted || {})[name];
      if (omitted) append(box, h("p", { class: "muted" }, "\u2026 " + omitted + " more entries not shown"));
    });
    return box;
  }

  function ledgerTable(entries) {
    var head = h("tr", null, ["#", "t", "effect", "object", "fields", "idempotency key", "principal"]
      .map(function (t) { return h("th", { scope: "col" }, t); }));
    var rows = entries.map(function (e) {
      var fields = Object.keys(e.fields || {}).map(function (k) {
        return k + "=" + (typeof e.fields[k] === "string" ? e.fields[k] : JSON.stringify(e.fields[k]));
      }).join(", ");
      return h("tr", null, [
        h("td", { class: "mono" }, String(e.seq)), h("td", null, seconds(e.at)),
        h("td", null, u(e.kind, "mono")), h("td", null, u(e.object_id, "mono")),
        h("td", { class: "fields" }, longText(fields, 300, "mono")),
        h("td", null, u(clip(e.idempotency_key || "\u2014", 60), "mono")),
        h("td", null, u(clip(e.principal || "\u2014", 40), "mono"))
      ]);
    });
    return h("div", { class: "scroll" }, h("table", { class: "ledger" }, [h("thead", null, head), h("tbody", null, rows)]));
  }

  function reply(ex, broken) {
    var box = h("div", { class: "reply" }, h("h4", null, "The agent's reply"));
    if (!ex.reply) return append(box, h("p", { class: "muted" }, "The agent gave no reply."));
    var told = verdictText(broken);
    var text = clip(ex.reply.text, 4000);
    var needles = offendingNeedles(ex, broken, told).filter(function (n) { return text.indexOf(n) >= 0; });
    append(box, h("blockquote", null, marked(text, needles)));
    var claims = ex.reply.claims || [];
    if (claims.length) {
      append(box, h("ul", { class: "claims" }, claims.map(function (c) {
        var bad = (c.ref && told.indexOf(c.ref) >= 0) || told.indexOf(c.intent) >= 0;
        return h("li", { class: bad ? "claim offending" : "claim" }, [
          u(c.intent, "mono"), " ", h("span", { class: "chip" }, u(c.status)),
          c.ref ? [" ", u(c.ref, "mono")] : null
        ]);
      })));
    }
    return box;
  }

  function verdictText(broken) {
    return broken.map(function (v) {
      return [v.explanation].concat((v.evidence || []).map(function (e) {
        return e.detail + " " + e.ref;
      })).join(" ");
    }).join(" ");
  }

  /** Strings to mark in the reply: reply evidence, and ids the violated verdicts talk about. */
  function offendingNeedles(ex, broken, told) {
    var needles = [];
    broken.forEach(function (v) {
      (v.evidence || []).forEach(function (e) {
        if (e.kind !== "reply") return;
        [e.detail, e.ref].forEach(function (n) { if (n && n.length >= 3) needles.push(show(n)); });
      });
    });
    (told.match(/\b[A-Za-z]{2,8}_[A-Za-z0-9]{6,}\b/g) || []).forEach(function (id) { needles.push(id); });
    (ex.reply.claims || []).forEach(function (c) {
      if (c.ref && told.indexOf(c.ref) >= 0) needles.push(show(c.ref));
    });
    return needles.filter(function (n, i) { return needles.indexOf(n) === i; });
  }

  /** Text nodes with every occurrence of a needle wrapped in <mark>, built with the DOM. */
  function marked(text, needles) {
    var spans = [];
    needles.forEach(function (n) {
      if (!n) return;
      var at = text.indexOf(n);
      while (at >= 0 && spans.length < 200) {
        spans.push([at, at + n.length]);
        at = text.indexOf(n, at + n.length);
      }
    });
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var out = h("bdi");
    var pos = 0;
    spans.forEach(function (sp) {
      if (sp[0] < pos) return;
      append(out, text.slice(pos, sp[0]));
      append(out, h("mark", null, text.slice(sp[0], sp[1])));
      pos = sp[1];
    });
    append(out, text.slice(pos));
    return out;
  }

  // --- the timeline picture -----------------------------------------------------------------

  var LANE_W = 130;
  var ROW_H = 22;
  var AXIS_W = 84;
  // Notes are 11.5px monospace: 0.6 em a character, a little more for safety. A note wraps at
  // NOTE_CHARS columns (wide characters count two) onto at most NOTE_LINES lines; the rest is
  // in its title. The picture is as wide as the longest line, so no label is ever clipped.
  var NOTE_CHAR_W = 7;
  var NOTE_CHARS = 84;
  var NOTE_LINES = 3;
  var NOTE_LINE_H = 15;
  var WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\ud800-\udbff][\udc00-\udfff]/;

  /** Deliveries run at once get a lane each, where a single run has the one agent lane; null
   * when the example ran no two deliveries at once. */
  function deliveryLanes(ex) {
    var trace = ex.trace || [], lanes = [];
    var together = trace.some(function (e) { return e.kind === "delivery" && e.reason === "concurrent"; });
    if (!together) return null;
    trace.forEach(function (e) {
      if (e.kind === "delivery" && lanes.indexOf("delivery " + e.delivery) < 0) lanes.push("delivery " + e.delivery);
    });
    return lanes;
  }

  function timelineLanes(ex) {
    var lanes = deliveryLanes(ex) || ["agent"];
    (ex.trace || []).forEach(function (e) {
      if (e.kind === "request" && lanes.indexOf("backend:" + e.backend) < 0) lanes.push("backend:" + e.backend);
    });
    Object.keys(ex.ledgers || {}).forEach(function (name) {
      if ((ex.ledgers[name] || []).length && lanes.indexOf("backend:" + name) < 0) lanes.push("backend:" + name);
    });
    lanes.push("faults");
    return lanes;
  }

  function timeline(ex) {
    var lanes = timelineLanes(ex);
    var laneX = function (lane) { return AXIS_W + 50 + lanes.indexOf(lane) * LANE_W; };
    var notesX = laneX("faults") + 60;
    var width = notesX + NOTE_CHARS * NOTE_CHAR_W + 16;
    var g = { marks: s("g", { class: "marks" }), notes: s("g", { class: "notes" }), grid: s("g", { class: "grid" }) };
    var state = { y: 44, at: 0, calls: {}, callY: {}, ended: {}, seen: {}, laneX: laneX,
      notesX: notesX, width: width, extra: 0, bands: {}, deliveries: {}, agent: lanes[0], byCall: {} };
    (ex.deliveries || []).forEach(function (d) { state.deliveries[d.number] = d; });
    tick(g, state, 0);
    var trace = ex.trace || [];
    var folds = stormFolds(ex, trace);
    trace.forEach(function (e, i) {
      var fold = folds[i];
      if (!fold) return drawEvent(g, state, e);
      if (!fold.drawn) drawFold(g, state, fold);
    });
    drawReply(g, state, ex);
    var hidden = (ex.trace_omitted || 0) + (ex.trace_dropped || 0);
    if (hidden) {
      note(g, state, state.y, "\u2026 " + hidden + " more events not shown", "omitted");
      state.y += ROW_H + takeExtra(state);
    }
    var height = state.y + 16;
    var svg = s("svg", { class: "timeline", width: width, height: height, viewBox: "0 0 " + width + " " + height,
      role: "img", "aria-label": "timeline of the counterexample" });
    append(svg, [g.grid, laneHeads(lanes, laneX, height), g.marks, g.notes]);
    return h("div", { class: "scroll timeline-box" }, svg);
  }

  function laneHeads(lanes, laneX, height) {
    return s("g", { class: "lanes" }, lanes.map(function (lane) {
      var x = laneX(lane);
      var label = lane.indexOf("backend:") === 0 ? lane.slice(8) : lane;
      var kind = lane.indexOf("backend:") === 0 ? "backend" : lane.indexOf("delivery ") === 0 ? "agent" : lane;
      return s("g", { class: "lane lane-" + kind }, [
        s("line", { x1: x, y1: 30, x2: x, y2: height - 8 }),
        s("text", { x: x, y: 18, "text-anchor": "middle" }, [clip(label, 16), s("title", null, show(label))])
      ]);
    }));
  }

  function tick(g, state, at) {
    append(g.grid, [
      s("line", { class: "tick", x1: 8, y1: state.y - 11, x2: state.width - 8, y2: state.y - 11 }),
      s("text", { class: "tick-label", x: AXIS_W, y: state.y - 14, "text-anchor": "end" }, "t=" + seconds(at))
    ]);
  }

  /** Advance the vertical time axis to ``at``: a gap that grows with the log of the delay. */
  function advance(g, state, at) {
    if (at <= state.at) return state.y;
    var start = state.y;
    state.y += 14 + Math.min(90, 22 * Math.log2(1 + (at - state.at)));
    state.at = at;
    tick(g, state, at);
    return start;
  }

  /** A note beside the lanes, wrapped onto lines that fit the picture; its title holds it all. */
  function note(g, state, y, text, cls) {
    var lines = wrapped(text, NOTE_CHARS, NOTE_LINES);
    append(g.notes, s("text", { class: "note " + (cls || ""), x: state.notesX, y: y + 4 },
      lines.map(function (line, i) {
        return s("tspan", { x: state.notesX, dy: i ? NOTE_LINE_H : 0 }, line);
      }).concat([s("title", null, show(text))])));
    state.extra = Math.max(state.extra, (lines.length - 1) * NOTE_LINE_H);
  }

  /** The room the last row's wrapped notes took below it, handed to the next row once. */
  function takeExtra(state) {
    var extra = state.extra;
    state.extra = 0;
    return extra;
  }

  function columns(c) {
    return WIDE.test(c) ? 2 : 1;
  }

  /** ``text`` in lines of at most ``width`` columns (breaking at a space when one is near), at
   * most ``most`` lines; a cut last line ends with an ellipsis. */
  function wrapped(text, width, most) {
    var chars = Array.from(show(text).slice(0, width * most * 2 + 2));
    var lines = [], line = [], used = 0, at = 0;
    for (; at < chars.length && lines.length < most; at++) {
      var w = columns(chars[at]);
      if (used + w > width) {
        var space = line.lastIndexOf(" ");
        var rest = space > width / 2 ? line.splice(space + 1) : [];
        lines.push(line.join(""));
        line = rest;
        used = rest.reduce(function (n, c) { return n + columns(c); }, 0);
        if (lines.length === most) { at -= rest.length; break; }
      }
      line.push(chars[at]);
      used += w;
    }
    if (lines.length < most && line.length) lines.push(line.join(""));
    if (at < chars.length || chars.length < Array.from(show(text)).length) {
      var last = Array.from(lines.pop() || "");
      while (last.length && last.reduce(function (n, c) { return n + columns(c); }, 0) > width - 1) last.pop();
      lines.push(last.join("") + "\u2026");
    }
    return lines;
  }

  function drawEvent(g, state, e) {
    var start = advance(g, state, e.at);
    var y = state.y;
    var draw = DRAW[e.kind];
    if (!draw) return;
    var used = draw(g, state, e, y, start);
    if (used !== false) state.y += ROW_H + takeExtra(state);
  }

  /** Every call of a storm after its first (three calls or more), with the sleeps between them,
   * folded into one row: trace index -> its fold. */
  function stormFolds(ex, trace) {
    var byCall = {};
    decisions(ex).forEach(function (group) {
      if (group.length < 3) return;
      var fold = { head: group[0], faults: group.slice(1), drawn: false, outcomes: [], slept: 0,
        commits: 0, from: null, to: 0 };
      fold.faults.forEach(function (f) { byCall[f.call] = fold; });
    });
    var owner = trace.map(function (e) { return e.call === undefined ? null : byCall[e.call] || null; });
    var folds = {};
    trace.forEach(function (e, i) {
      var fold = owner[i] || (e.kind === "sleep" ? between(owner, trace, i) : null);
      if (!fold) return;
      folds[i] = fold;
      if (fold.from === null) fold.from = e.at;
      fold.to = Math.max(fold.to, e.at);
      if (e.kind === "sleep") fold.slept += Number(e.seconds || 0);
      if (e.kind === "commit") fold.commits += 1;
      var outcome = e.kind === "response" ? e.status + (e.error_code ? " " + e.error_code : "")
        : e.kind === "exception" ? e.error : null;
      if (outcome !== null && fold.outcomes.indexOf(outcome) < 0) fold.outcomes.push(outcome);
    });
    return folds;
  }

  /** The fold a sleep lies inside: the one owning the events on both sides of it. */
  function between(owner, trace, i) {
    var before = null, after = null, j;
    for (j = i - 1; j >= 0 && trace[j].kind === "sleep"; j--);
    if (j >= 0) before = owner[j];
    for (j = i + 1; j < trace.length && trace[j].kind === "sleep"; j++);
    if (j < trace.length) after = owner[j];
    return before && before === after ? before : null;
  }

  function drawFold(g, state, fold) {
    fold.drawn = true;
    var first = fold.faults[0], last = fold.faults[fold.faults.length - 1];
    var route = first.backend + " " + first.route;
    advance(g, state, fold.from);
    var y = state.y;
    var x = state.laneX("faults");
    var from = state.callY[fold.head.call] === undefined ? y : state.callY[fold.head.call];
    arrow(g, state.laneX(state.agent), state.laneX("backend:" + first.backend), y - 4, "request retry");
    arrow(g, state.laneX("backend:" + first.backend), state.laneX(state.agent), y + 4, "response bad");
    append(g.marks, [
      s("rect", { class: "fault-window", x: x - 9, y: from - 8, width: 18, height: y - from + 16, rx: 4 }),
      s("polygon", { class: "fault", points: [x, y - 8, x + 8, y, x, y + 8, x - 8, y].join(" ") })
    ]);
    fold.faults.forEach(function (f) {
      state.calls[f.call] = first.backend;
      state.ended[f.call] = "failed";
      (state.seen[route] = state.seen[route] || []).push(f.call);
    });
    note(g, state, y, "#" + first.call + "\u2013#" + last.call + " \u21bb " +
      plural(fold.faults.length, "more call") + " to " + route + ", each \u26a1 " + first.kind +
      (fold.outcomes.length ? " \u2192 " + fold.outcomes.join(" / ") : "") +
      (fold.commits ? ", " + plural(fold.commits, "commit") + " among them" : "") + ", t=" +
      seconds(fold.from) + " to " + seconds(fold.to) +
      (fold.slept ? " (slept " + seconds(fold.slept) + " between)" : ""), "retry");
    state.y += ROW_H + takeExtra(state);
    advance(g, state, fold.to);
  }

  function arrow(g, x1, x2, y, cls) {
    var dir = x2 > x1 ? -1 : 1;
    append(g.marks, s("g", { class: "arrow " + cls }, [
      s("line", { x1: x1, y1: y, x2: x2 + dir * 2, y2: y }),
      s("polygon", { points: [x2, y, x2 + dir * 7, y - 4, x2 + dir * 7, y + 4].join(" ") })
    ]));
  }

  function backendX(state, call) {
    var backend = state.calls[call];
    return state.laneX(backend ? "backend:" + backend : agentOf(state, call));
  }

  /** The lane of the delivery that made ``call`` (the one agent lane of a single run). */
  function agentOf(state, call) {
    return state.byCall[call] || state.agent;
  }

  var DRAW = {
    request: function (g, state, e, y) {
      var route = e.backend + " " + e.method + " " + e.route;
      var retry = state.seen[route] && state.seen[route].some(function (c) { return state.ended[c] === "failed"; });
      (state.seen[route] = state.seen[route] || []).push(e.call);
      state.calls[e.call] = e.backend;
      state.callY[e.call] = y;
      state.byCall[e.call] = state.agent;
      arrow(g, state.laneX(state.agent), state.laneX("backend:" + e.backend), y, retry ? "request retry" : "request");
      var params = Object.keys(e.params || {}).map(function (k) { return k + "=" + e.params[k]; }).join(" ");
      note(g, state, y, "#" + e.call + (retry ? " \u21bb retry " : " ") + e.method + " " + e.path +
        (e.idempotency_key ? "  key=" + e.idempotency_key : "") + (params ? "  " + params : ""),
        retry ? "retry" : "");
    },
    response: function (g, state, e, y) {
      var cls = e.status < 300 ? "ok" : e.status < 500 ? "warn" : "bad";
      state.ended[e.call] = e.status < 300 ? "ok" : "failed";
      arrow(g, backendX(state, e.call), state.laneX(agentOf(state, e.call)), y, "response " + cls);
      note(g, state, y, "#" + e.call + " \u2190 " + e.status + (e.error_code ? " " + e.error_code : "") +
        (e.retry_after !== undefined ? "  Retry-After " + e.retry_after + " s" : "") +
        (e.replayed ? "  (replayed)" : ""), cls);
    },
    exception: function (g, state, e, y) {
      state.ended[e.call] = "failed";
      arrow(g, backendX(state, e.call), state.laneX(agentOf(state, e.call)), y, "exception");
      cross(g, state.laneX(agentOf(state, e.call)), y);
      note(g, state, y, "#" + e.call + " \u2715 " + e.error + ": " + e.message, "bad");
    },
    commit: function (g, state, e, y) {
      var x = state.laneX("backend:" + e.backend);
      append(g.marks, s("rect", { class: "commit", x: x - 6, y: y - 6, width: 12, height: 12, rx: 2 }));
      note(g, state, y, "#" + e.call + " commit " + e.effect + " " + e.object_id, "commit");
    },
    fault: function (g, state, e, y) {
      var x = state.laneX("faults");
      var from = state.callY[e.call] === undefined ? y : state.callY[e.call];
      append(g.marks, [
        s("rect", { class: "fault-window", x: x - 9, y: from - 8, width: 18, height: y - from + 16, rx: 4 }),
        s("line", { class: "fault-link", x1: backendX(state, e.call), y1: y, x2: x, y2: y }),
        s("polygon", { class: "fault", points: [x, y - 8, x + 8, y, x, y + 8, x - 8, y].join(" ") })
      ]);
      note(g, state, y, "#" + e.call + " \u26a1 " + e.fault + (e.detail ? " (" + e.detail + ")" : "") +
        "  rule " + e.rule, "fault");
    },
    sleep: function (g, state, e, y, start) {
      var x = state.laneX(state.agent);
      var top = Math.min(start, y - 10);
      append(g.marks, s("rect", { class: "sleep", x: x - 4, y: top, width: 8, height: Math.max(6, y - top), rx: 3 }));
      note(g, state, (top + y) / 2, "sleep " + seconds(e.seconds), "sleep");
      return false;
    },
    unrouted: function (g, state, e, y) {
      cross(g, state.laneX(state.agent), y);
      note(g, state, y, "\u2715 refused: unrouted " + e.method + " " + e.url, "bad");
    },
    guard: function (g, state, e, y) {
      cross(g, state.laneX(state.agent), y);
      note(g, state, y, "\u2715 refused: " + (e.what === "process" ? "process " : e.what + " ") +
        e.target + (e.library ? " (" + e.library + ")" : ""), "bad");
    },
    // A delivery of the task is a band across every lane; a crash ends its band with a mark.
    // Deliveries run at once have lanes of their own instead, marked where the baton moves.
    delivery: function (g, state, e, y) {
      if (state.agent.indexOf("delivery ") === 0) return turnMark(g, state, e, y);
      var told = deliveryLabel(state.deliveries[e.delivery] || e);
      if (e.what === "start") {
        state.bands[e.delivery] = y;
        append(g.grid, s("line", { class: "delivery-start", x1: 8, y1: y - 11, x2: state.width - 8, y2: y - 11 }));
        note(g, state, y, "\u25b6 " + told, "delivery");
        return;
      }
      var top = state.bands[e.delivery] === undefined ? y : state.bands[e.delivery];
      append(g.grid, s("rect", { class: "delivery-band band-" + (e.delivery % 2 ? "odd" : "even"),
        x: 8, y: top - 11, width: state.width - 16, height: y - top + 22, rx: 4 }));
      if (e.what === "crash") {
        var x = state.laneX("agent");
        append(g.marks, s("g", { class: "crash" }, [
          s("circle", { cx: x, cy: y, r: 9 }),
          s("line", { x1: x - 5, y1: y - 5, x2: x + 5, y2: y + 5 }),
          s("line", { x1: x - 5, y1: y + 5, x2: x + 5, y2: y - 5 })
        ]));
        note(g, state, y, "\u2620 " + told + " killed at call #" + e.crashed_at + " (agent_crash)", "bad");
      } else {
        var replied = (state.deliveries[e.delivery] || {}).reply;
        note(g, state, y, "\u25c0 delivery " + e.delivery + " replied" +
          (replied ? ": \u201c" + replied.text + "\u201d" : ""), "delivery");
      }
    }
  };

  /** "delivery 2 after a crash at call #3", "delivery 3 (a follow-up message)": as the
   * failure text says it (chaoskit.results.DeliveryRecord.label). */
  function deliveryLabel(d) {
    var head = "delivery " + (d.number || d.delivery);
    if (d.reason === "redelivery" && d.after_crash !== null && d.after_crash !== undefined) {
      return head + " after a crash at call #" + d.after_crash;
    }
    return head + ({ duplicate: " (a duplicate)", follow_up: " (a follow-up message)" }[d.reason] || "");
  }

  /** One of several deliveries run at once starts, takes its turn again, ends or is killed. */
  function turnMark(g, state, e, y) {
    var lane = "delivery " + e.delivery;
    if (e.what === "start" || e.what === "turn") state.agent = lane;
    var x = state.laneX(lane);
    append(g.marks, s("rect", { class: "turn", x: x - 7, y: y - 3, width: 14, height: 6, rx: 3 }));
    var said = { start: " starts (" + e.reason + ")", turn: " takes its turn again", end: " ends",
      crash: " is killed at call #" + e.crashed_at + " (agent_crash)" };
    note(g, state, y, lane + (said[e.what] || " " + e.what), e.what === "crash" ? "bad" : "turn");
  }

  function cross(g, x, y) {
    append(g.marks, s("g", { class: "cross" }, [
      s("line", { x1: x - 5, y1: y - 5, x2: x + 5, y2: y + 5 }),
      s("line", { x1: x - 5, y1: y + 5, x2: x + 5, y2: y - 5 })
    ]));
  }

  function drawReply(g, state, ex) {
    advance(g, state, Number(ex.virtual_seconds || 0));
    var x = state.laneX(state.agent);
    append(g.marks, s("circle", { class: "reply-dot", cx: x, cy: state.y, r: 7 }));
    note(g, state, state.y, ex.reply ? "reply: \u201c" + ex.reply.text + "\u201d" : "no reply", "reply");
    state.y += ROW_H + takeExtra(state);
  }

  // --- coverage, sometimes, not exercised, budgets, samples ---------------------------------

  function coverage(sc) {
    var box = h("div", { class: "coverage" }, h("h4", null, "Fault coverage"));
    var faults = (sc.coverage || {}).faults || {};
    var rows = [];
    Object.keys(faults).forEach(function (route) {
      Object.keys(faults[route]).forEach(function (kind) { rows.push([route, kind, faults[route][kind]]); });
    });
    if (!rows.length) return append(box, h("p", { class: "muted" }, "No fault fired in any example."));
    var total = Math.max(1, sc.examples || 0);
    var height = rows.length * 40 + 4;
    var longest = Math.max.apply(null, rows.map(function (row) {
      return Array.from(clip(row[0] + " \u00b7 " + row[1], 64)).reduce(function (n, c) { return n + columns(c); }, 0);
    }));
    var width = Math.max(420, Math.ceil(longest * 7.4) + 8);
    var svg = s("svg", { class: "bars", width: width, height: height, viewBox: "0 0 " + width + " " + height,
      role: "img", "aria-label": "faults fired per route" });
    rows.forEach(function (row, i) {
      var y = i * 40;
      var w = Math.max(2, Math.min(1, row[2] / total) * 300);
      append(svg, [
        s("text", { class: "bar-label", x: 0, y: y + 12 }, [clip(row[0] + " \u00b7 " + row[1], 64),
          s("title", null, show(row[0] + " · " + row[1]))]),
        s("rect", { class: "bar-bg", x: 0, y: y + 18, width: 300, height: 14, rx: 3 }),
        s("rect", { class: "bar", x: 0, y: y + 18, width: w, height: 14, rx: 3 }),
        s("text", { class: "bar-value", x: 308, y: y + 30 }, row[2] + " / " + plural(total, "example"))
      ]);
    });
    append(box, svg);
    return append(box, h("p", { class: "muted" }, (sc.coverage.examples_with_faults || 0) +
      " of " + plural(sc.examples || 0, "example") + " had at least one fault."));
  }

  function sometimes(sc) {
    var box = h("div", { class: "sometimes" }, h("h4", null, "Sometimes-properties"));
    var props = (sc.coverage || {}).sometimes || {};
    var names = Object.keys(props);
    if (!names.length) return append(box, h("p", { class: "muted" }, "None declared."));
    return append(box, h("ul", null, names.map(function (name) {
      var hit = props[name] > 0;
      return h("li", { class: hit ? "hit" : "missed" }, [
        h("span", { class: "mark-icon" }, hit ? "\u2714" : "\u2718"), " ", u(name),
        h("span", { class: "muted" }, hit ? " \u00b7 hit in " + plural(props[name], "example") : " \u00b7 never hit")
      ]);
    })));
  }

  function notExercised(sc) {
    var reasons = sc.not_exercised || [];
    if (!reasons.length) return null;
    return h("div", { class: "not-exercised" }, [
      h("h4", null, "Not exercised"),
      h("p", { class: "muted" }, "These faults or properties never reached the agent, so the scenario tested nothing there:"),
      h("ul", null, reasons.map(function (r) { return h("li", null, longText(r, 600)); }))
    ]);
  }

  function budgets(sc) {
    var examples = [];
    if (sc.counterexample) examples.push(["counterexample", sc.counterexample]);
    (sc.samples || []).forEach(function (ex, i) { examples.push(["passing sample " + (i + 1), ex]); });
    if (!examples.length) return null;
    var head = h("tr", null, ["example", "virtual time", "tool calls", "other usage"].map(function (t) {
      return h("th", { scope: "col" }, t);
    }));
    var rows = examples.map(function (pair) {
      var ex = pair[1];
      var usage = Object.keys(ex.usage || {}).map(function (k) { return k + " " + ex.usage[k]; }).join(", ");
      return h("tr", null, [h("td", null, pair[0]), h("td", null, seconds(ex.virtual_seconds)),
        h("td", null, String(requests(ex).length) + ((ex.trace_omitted || 0) ? "+" : "")),
        h("td", null, u(clip(usage || "\u2014", 200), "mono"))]);
    });
    var budget = sc.budget;
    if (budget) {
      rows.push(h("tr", { class: "allowed" }, [h("td", null, "allowed"),
        h("td", null, budget.seconds == null ? "\u2014" : seconds(budget.seconds)),
        h("td", null, budget.tool_calls == null ? "\u2014" : String(budget.tool_calls)),
        h("td", null, ["model_calls", "tokens", "usd"].filter(function (k) {
          return budget[k] != null;  // unset limits are null in the JSON
        }).map(function (k) { return k + " " + budget[k]; }).join(", ") || "\u2014")]));
    }
    return h("div", { class: "budgets" }, [
      h("h4", null, "Budgets"),
      h("div", { class: "scroll" }, h("table", { class: "budget" }, [h("thead", null, head), h("tbody", null, rows)])),
      budget ? null : h("p", { class: "muted" }, "The results do not record the allowed budget; " +
        "a budget invariant, if declared, shows its verdict in the matrix.")
    ]);
  }

  // --- trials: pass^k, its plot, per-schedule pass rates, one tab per trial -----------------

  function hasTrials(sc) {
    return sc.pass_k !== undefined && sc.pass_k !== null;
  }

  function twoPlaces(x) {
    return Number(x).toFixed(2);
  }

  /** How many schedules passed how many of their trials, most passes first. */
  function rateCounts(sc) {
    var counts = {};
    (sc.schedules || []).forEach(function (one) {
      var key = one.passed + "/" + one.trials;
      counts[key] = (counts[key] || 0) + 1;
    });
    return Object.keys(counts).sort(function (a, b) {
      return Number(b.split("/")[0]) - Number(a.split("/")[0]);
    }).map(function (key) { return { rate: key, count: counts[key] }; });
  }

  function rateText(sc) {
    return rateCounts(sc).map(function (r) { return r.count + "\u00d7" + r.rate; }).join(" \u00b7 ");
  }

  function trialsStatus(sc) {
    if (sc.pass_k >= 1) return "held";
    if (sc.min_pass_k !== undefined && sc.min_pass_k !== null) {
      return sc.pass_k >= sc.min_pass_k ? "held" : "violated";
    }
    return "violated";
  }

  function trialsCell(sc) {
    if (!hasTrials(sc)) return h("td", { class: "cell na", title: "not run in trials" }, "\u2014");
    var title = "pass^" + sc.trials + " = " + twoPlaces(sc.pass_k) + " over " +
      plural((sc.schedules || []).length, "schedule") + " of " + plural(sc.trials, "trial") +
      "; schedules by trials passed: " + rateText(sc);
    return h("td", { class: "cell trials st-" + trialsStatus(sc), title: title }, [
      h("span", { class: "word" }, "pass^" + sc.trials + " " + twoPlaces(sc.pass_k)),
      h("span", { class: "count" }, rateText(sc))
    ]);
  }

  function trialsPanel(sc) {
    var k = sc.trials;
    var lines = [
      h("p", null, [
        plural((sc.schedules || []).length, "fault schedule") + " explored, each run " +
        plural(k, "time") + " on the same world. pass^" + k + " = ",
        h("b", null, twoPlaces(sc.pass_k)),
        ": the chance that " + k + " runs of one schedule all pass (pass^1 = " +
        twoPlaces((sc.pass_curve || [sc.pass_k])[0]) + ", the mean pass rate)."
      ]),
      h("p", { class: "muted" }, "Schedules by trials passed: " + (rateText(sc) || "none") + ".")
    ];
    if (sc.min_pass_k !== undefined && sc.min_pass_k !== null) {
      lines.push(h("p", null, "min_pass_k " + sc.min_pass_k + ": " +
        (sc.pass_k >= sc.min_pass_k ? "reached, so the scenario holds" : "not reached") + "."));
    }
    if (sc.deterministic) {
      lines.push(h("p", { class: "muted" }, "Trials skipped: the agent is deterministic (its " +
        k + " trials of each of the first faulted schedules were identical), so later " +
        "schedules ran once."));
    }
    return h("div", { class: "trials-panel" }, [
      h("h3", null, "Trials"),
      h("div", { class: "grid2" }, [h("div", null, lines), passPlot(sc)])
    ]);
  }

  /** pass^k against k = 1 … K: a small hand-drawn SVG. */
  function passPlot(sc) {
    var curve = sc.pass_curve || [];
    var W = 260, H = 160, L = 40, R = 12, T = 26, B = 30;
    var x = function (k) {
      return curve.length < 2 ? L + (W - L - R) / 2 : L + (k - 1) * (W - L - R) / (curve.length - 1);
    };
    var y = function (v) { return T + (1 - v) * (H - T - B); };
    var grid = [0, 0.5, 1].map(function (v) {
      return s("g", { class: "grid" }, [
        s("line", { x1: L, y1: y(v), x2: W - R, y2: y(v) }),
        s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, String(v))
      ]);
    });
    var ticks = curve.map(function (_, i) {
      return s("text", { x: x(i + 1), y: H - B + 16, "text-anchor": "middle" }, String(i + 1));
    });
    var points = curve.map(function (v, i) { return x(i + 1) + "," + y(v); }).join(" ");
    var dots = curve.map(function (v, i) {
      return s("circle", { cx: x(i + 1), cy: y(v), r: 3 },
        s("title", null, "pass^" + (i + 1) + " = " + twoPlaces(v)));
    });
    return s("svg", { class: "pass-plot", width: W, height: H, viewBox: "0 0 " + W + " " + H,
      role: "img", "aria-label": "pass^k against k, for k = 1 to " + curve.length }, [
      grid, ticks,
      s("text", { class: "axis", x: (L + W - R) / 2, y: H - 2, "text-anchor": "middle" }, "k"),
      s("text", { class: "axis", x: 4, y: 12 }, "pass^k"),
      s("polyline", { points: points }),
      dots
    ]);
  }

  function failedRun(ex) {
    return (ex.findings || []).length > 0 ||
      (ex.verdicts || []).some(function (v) { return v.status === "violated"; });
  }

  /** The minimal schedule's trials as tabs, the first failing one open. */
  function trialTabs(sc) {
    var trials = sc.counterexample_trials || [];
    if (trials.length < 2) return null;
    var first = trials.findIndex(failedRun);
    var panel = h("div", { role: "tabpanel", class: "trial-panel" });
    var bar = h("div", { role: "tablist", class: "tabs", "aria-label": "trials of the minimal schedule" });
    var buttons = trials.map(function (ex, i) {
      var failed = failedRun(ex);
      var button = h("button", { type: "button", role: "tab", class: "tab " + (failed ? "tab-failed" : "tab-passed") },
        "trial " + (i + 1) + (failed ? " \u2717 failed" : " \u2713 passed"));
      button.addEventListener("click", function () { pick(i); });
      return button;
    });
    function pick(i) {
      buttons.forEach(function (b, j) { b.setAttribute("aria-selected", String(i === j)); });
      panel.textContent = "";
      append(panel, failedRun(trials[i]) ? counterexample(sc, trials[i]) : passedTrial(sc, trials[i], i));
      fitPictures(panel);
    }
    append(bar, buttons);
    pick(first < 0 ? 0 : first);
    var failing = trials.filter(failedRun).length;
    return h("div", { class: "trials" }, [
      h("p", { class: "muted" }, "The minimal schedule was run " + plural(trials.length, "time") + ": " +
        failing + " failed, " + (trials.length - failing) + " passed. Each tab tells one trial."),
      bar, panel
    ]);
  }

  function passedTrial(sc, ex, i) {
    return h("div", { class: "story" }, [
      h("h3", null, "Trial " + (i + 1) + " passed on the same schedule"),
      h("p", { class: "lead" }, ["Asked ", h("q", null, longText(ex.message, 400)), ", agent ",
        u(sc.agent, "mono"), " held every invariant in world ", h("span", { class: "mono" }, String(ex.world_seed)),
        " after " + faultCount(ex) + " and " + seconds(ex.virtual_seconds) + " of virtual time."]),
      faultList(decisions(ex)),
      h("h4", null, "Timeline"),
      timeline(ex),
      reply(ex, []),
      ledgers(ex)
    ]);
  }

  /** Passing samples, drawn when first opened: most readers never need them. */
  function samples(sc) {
    var list = sc.samples || [];
    if (!list.length) return null;
    var box = h("details", { class: "samples" },
      h("summary", null, plural(list.length, "passing sample") + " (what a good run looks like)"));
    var drawn = false;
    box.addEventListener("toggle", function () {
      if (!box.open || drawn) return;
      drawn = true;
      append(box, list.map(function (ex, i) {
        return h("div", { class: "sample" }, [
          h("h5", null, "Sample " + (i + 1) + " \u00b7 world " + ex.world_seed + " \u00b7 " +
            plural((ex.faults || []).length, "fault")),
          timeline(ex)
        ]);
      }));
    });
    return box;
  }

  build();
})();
