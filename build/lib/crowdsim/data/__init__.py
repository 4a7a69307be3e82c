"""Data shipped with crowdsim: the country table (``countries.csv``), each row citing its sources."""

from crowdsim.data.countries import CountryTable, load_countries

__all__ = ["CountryTable", "load_countries"]
