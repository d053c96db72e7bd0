#include "api.h"

const struct http_route api_routes[] = {
	{ "GET", "/onboarding/certificate", api_certificate_get, 0 },
	{ "POST", "/onboarding/", api_onboarding_post, 0 },
	{ "POST", "/onboarding", api_onboarding_post, 0 },
	{ "GET", "/onboarding/requests/{requestId}", api_onboarding_poll, 0 },
	{ "POST", "/oauth2/token", api_oauth_token, 0 },
	{ "POST", "/device/{deviceId}/capabilities", api_device_capabilities_put, 0 },
	{ "PUT", "/device/{deviceId}/capabilities", api_device_capabilities_put, 0 },
	{ "GET", "/device/{deviceId}/capabilities", api_device_capabilities_get, 0 },
	{ "POST", "/device/{deviceId}/deployment/{deploymentId}/status",
	  api_device_deployment_status, 0 },
	{ "POST", "/admin/v1/enrollment-tokens", api_admin_enrollment_create, 0 },
	{ "GET", "/admin/v1/enrollment-tokens", api_admin_enrollment_list, 0 },
	{ "DELETE", "/admin/v1/enrollment-tokens/{id}", api_admin_enrollment_revoke, 0 },
	{ "POST", "/admin/v1/certificates", api_admin_certificate_add, 0 },
	{ "GET", "/admin/v1/certificates", api_admin_certificate_list, 0 },
	{ "DELETE", "/admin/v1/certificates/{fingerprint}", api_admin_certificate_remove, 0 },
	{ "GET", "/admin/v1/devices", api_admin_device_list, 0 },
	{ "GET", "/admin/v1/devices/{id}", api_admin_device_show, 0 },
	{ "DELETE", "/admin/v1/devices/{id}", api_admin_device_revoke, 0 },
	{ "POST", "/admin/v1/devices/{id}/approve", api_admin_device_approve, 0 },
	{ "POST", "/admin/v1/devices/{id}/reject", api_admin_device_reject, 0 },
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
