from django.urls import path

from panel.web.views import account, auth, orders, payments

urlpatterns = [
    path("", account.dashboard, name="dashboard"),
    path("signup/", auth.signup, name="signup"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.logout, name="logout"),
    path("password-reset/", auth.password_reset, name="password_reset"),
    path("password-reset/sent/", auth.password_reset_done, name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth.password_reset_confirm, name="password_reset_confirm"),
    path("password-reset/done/", auth.password_reset_complete, name="password_reset_complete"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/new/", orders.order_new, name="order_new"),
    path("orders/quote/", orders.order_quote_view, name="order_quote"),
    path("orders/mass/", orders.order_mass, name="order_mass"),
    path("orders/<int:order_id>/", orders.order_detail, name="order_detail"),
    path("orders/<int:order_id>/refill/", orders.order_refill, name="order_refill"),
    path("orders/<int:order_id>/cancel/", orders.order_cancel, name="order_cancel"),
    path("refills/", orders.refill_list, name="refills"),
    path("services/", account.service_list, name="services"),
    path("funds/", payments.funds, name="funds"),
    path("funds/quote/", payments.deposit_quote, name="deposit_quote"),
    path("funds/deposits/<int:deposit_id>/", payments.deposit_detail, name="deposit_detail"),
    path("funds/deposits/<int:deposit_id>/status/", payments.deposit_status, name="deposit_status"),
    path("payments/<slug:name>/webhook/", payments.payment_webhook, name="payment_webhook"),
    path("transactions/", account.transactions, name="transactions"),
    path("api-access/", account.api_access, name="api_access"),
    path("api-access/new-key/", account.api_key_regenerate, name="api_key_regenerate"),
    path("account/", account.account, name="account"),
]
