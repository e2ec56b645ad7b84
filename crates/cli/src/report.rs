//! Human-readable renderings of library results, for the terminal.

use shinrai_scu::audit::AuditReport;

/// An audit report: a summary line, then one line per problem with its position.
pub fn audit(report: &AuditReport) -> String {
    let mut out = String::new();
    if report.is_intact() {
        out.push_str(&format!(
            "audit log {}: intact, {} record(s) checked\n",
            report.path.display(),
            report.records_checked
        ));
    } else {
        out.push_str(&format!(
            "audit log {}: TAMPERED, {} problem(s) in {} record(s)\n",
            report.path.display(),
            report.problems.len(),
            report.records_checked
        ));
        for p in &report.problems {
            let seq = p.seq.map(|s| format!(", record {s}")).unwrap_or_default();
            out.push_str(&format!(
                "  line {}{seq}: {:?}: {}\n",
                p.line, p.kind, p.detail
            ));
        }
    }
    out
}
