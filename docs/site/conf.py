"""Sphinx configuration of the tutorials' static site (``make site``).

The pages are the notebooks in ``notebooks/`` as they are committed, outputs included: nothing is
executed (``nb_execution_mode = "off"``), so the site shows the fast-mode run the repository holds.

The source directory is the repository root and this folder is only the configuration directory:

    sphinx-build -W --keep-going -b html -c docs/site . docs/site/_build/html

so the notebooks are read in place (no copies, no symbolic links), a page's name is its path in the
repository (``notebooks/00_quickstart``, which the launch buttons need), and the notebooks' own
relative links (``01_data_preparation.ipynb``, ``../docs/results/explain.md``) resolve as they do on
GitHub. Only ``docs/site/*.md`` and ``notebooks/*.ipynb`` are pages; every other top-level folder
is pruned from the source scan (``.venv`` alone holds tens of thousands of files).

Links from a page to a repository file that is not a page (e.g. ``../docs/results/explain.md``) become
links to that file on GitHub (``repository_file_links`` below) instead of "target not found"
warnings; a link to a file that does not exist still fails the build. No warning is suppressed.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REPOSITORY = "hsta-edu/hsta_edu"
BRANCH = "main"
BLOB = f"https://github.com/{REPOSITORY}/blob/{BRANCH}"

project = "hsta_edu tutorials"
author = "hsta_edu developers"
copyright = "hsta_edu developers, MIT licence"

extensions = ["myst_nb"]

# --- sources: the landing page here and the notebooks, nothing else of the repository
root_doc = "docs/site/index"
include_patterns = ["docs/site/*.md", "notebooks/*.ipynb"]
exclude_patterns = sorted(
    [p.name for p in ROOT.iterdir() if p.name not in {"docs", "notebooks"}]
    + [f"docs/{p.name}" for p in (ROOT / "docs").iterdir() if p.name != "site"]
    + ["docs/site/_build", "docs/site/_templates", "**/.ipynb_checkpoints"]
)

# --- notebooks: shown as committed, never executed
nb_execution_mode = "off"
nb_merge_streams = True            # consecutive prints of a cell shown as one block
myst_enable_extensions = ["dollarmath", "amsmath"]   # the notebooks' $...$ and $$...$$ equations
myst_heading_anchors = 3

# --- HTML: the book theme, with Binder and Colab buttons on every notebook page
html_theme = "sphinx_book_theme"
html_title = "hsta_edu tutorials"
html_copy_source = True            # the download button offers the .ipynb itself
templates_path = ["_templates"]
html_additional_pages = {"index": "redirect.html"}   # the site's root sends to docs/site/index.html
html_theme_options = {
    "repository_url": f"https://github.com/{REPOSITORY}",
    "repository_branch": BRANCH,
    # page names are paths from the repository root, so launch links end in notebooks/NN_name.ipynb,
    # exactly as the Colab badges in the notebooks' first cell
    "path_to_docs": "",
    "use_repository_button": True,
    "use_source_button": True,
    "use_issues_button": True,
    "use_download_button": True,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
    "show_toc_level": 2,
}


class RepositoryFileLinks(SphinxPostTransform):
    """A markdown link to a repository file that is not a page of the site becomes a link to the file
    on GitHub. Runs just before myst's reference resolver (priority 9), which would warn about it."""

    default_priority = 8

    def run(self, **kwargs) -> None:
        env = self.env
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") != "doc":
                continue
            target = node["reftarget"]
            if target in env.all_docs:
                continue
            found = [s for s in env.config.source_suffix if (ROOT / f"{target}{s}").is_file()]
            if found:
                anchor = f"#{node['reftargetid']}" if node.get("reftargetid") else ""
                self._replace(node, f"{BLOB}/{target}{found[0]}{anchor}")
        for node in list(self.document.findall(addnodes.download_reference)):
            if node.get("reftype") != "myst":
                continue
            _, path = env.relfn2path(node["reftarget"], node.get("refdoc", env.docname))
            path = Path(path)
            if path.is_file() and path.is_relative_to(ROOT):
                self._replace(node, f"{BLOB}/{path.relative_to(ROOT).as_posix()}")

    @staticmethod
    def _replace(node: nodes.Element, url: str) -> None:
        link = nodes.reference("", "", *node.children, refuri=url, internal=False,
                               classes=["external"])
        node.replace_self(link)


def setup(app):
    app.add_post_transform(RepositoryFileLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
