"""The development cluster: a real Kubernetes control plane, our node agent, a real router
(Traefik) and a real sign-in (oauth2-proxy), on one machine.

People run it by hand to try previews (`scripts/cluster up`), and the tests use it too. It is a
tool beside the product: nothing under `streamlit_preview/` imports it.
"""
