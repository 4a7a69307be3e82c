"""Platform rules that the phases consult: commission schemes and payment, rejection, pay and access rules."""
