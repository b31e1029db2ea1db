# Sourced by train-adapters.sh and eval-adapters.sh: what the shipped adapters' corpora are made of.
# The schema files (domains) they were trained on, so that `data synth` gives byte-identical
# corpora when the catalog grows by new files (they also pass `--templates v1`, the template set
# they were generated with, for the same reason when templates are added):
v1_domains=retail,finance,health,education,hr,travel,media,tech,public
# Stage 6 draws from the whole catalog of its time (15 domains) with the second template set:
v2_domains=$v1_domains,services,leisure,logistics,industry,civic,digital
# The 8 schema families held out of training (the held-out evaluation split), listed so that the
# split does not depend on which families a seed-chosen count picks from a grown catalog:
held_out=app_store,clinical_trials,hospital_wards,invoicing,manufacturing,property_rentals,restaurants,training_programs
