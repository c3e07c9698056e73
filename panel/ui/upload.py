"""The validation report of an uploaded package (upload/_report.html)."""

from ..installer.report import PackageReport, comparison_rows


def report_context(report: PackageReport, token: str | None = None, filename: str = "") -> dict:
    """Everything upload/_report.html needs."""
    return {
        "report": report,
        "token": token,
        "filename": filename,
        "rows": comparison_rows(report),
        "unpacked_kb": max(1, report.unpacked_bytes // 1024) if report.unpacked_bytes else 0,
        "package_kb": max(1, report.package_bytes // 1024),
    }
