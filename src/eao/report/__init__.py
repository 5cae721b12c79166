"""Figures of the Snakemake report (rule report_figures; `snakemake --report`)."""
