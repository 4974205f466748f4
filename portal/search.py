"""The header's search box: the page. What it finds, and what to do when nothing matched, is
insights.search (a read model); one hit opens its page straight away, several are shown grouped by
kind."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from insights.search import MAX_QUERY, SearchResults, next_steps, portal_search


class SearchForm(forms.Form):
    """The search box. A scanner may send a long run of characters: anything past MAX_QUERY is
    cut (no number is longer); a NUL byte is refused (the database would refuse it: a 500)."""

    q = forms.CharField(required=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip()[:MAX_QUERY]


@require_GET
@login_required
def search(request):
    form = SearchForm(request.GET)
    if not form.is_valid():  # before any query
        return render(
            request,
            "portal/search.html",
            {"search_query": "", "search_errors": form.errors.get("q", []), "results": SearchResults("")},
            status=400,
        )
    query = form.cleaned_data["q"]
    results = portal_search(request.user, query)
    hits = results.hits
    if len(hits) == 1:
        return redirect(hits[0].url)
    return render(
        request,
        "portal/search.html",
        {
            "search_query": query,
            "results": results,
            "next_steps": next_steps(request.user, query) if query and not hits else [],
        },
    )
