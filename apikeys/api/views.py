"""/api/v1/api-keys: the caller's API keys. Managed with a login only: a
key cannot create, list or revoke keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys import selectors, services
from core.api.authentication import LoggedJWTAuthentication
from core.api.client import client_ip
from core.api.errors import error_responses

from .serializers import ApiKeySerializer, CreateApiKeySerializer, CreatedApiKeySerializer


class ApiKeyListCreateView(APIView):
    authentication_classes = [LoggedJWTAuthentication]

    @extend_schema(responses={200: ApiKeySerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(ApiKeySerializer(selectors.keys_of(user=request.user), many=True).data)

    @extend_schema(request=CreateApiKeySerializer, responses={201: CreatedApiKeySerializer, **error_responses(400)})
    def post(self, request: Request) -> Response:
        body = CreateApiKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = services.create_key(user=request.user, ip=client_ip(request), **body.validated_data)
        data = {**ApiKeySerializer(created.key).data, "secret": created.secret}
        return Response(CreatedApiKeySerializer(data).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    authentication_classes = [LoggedJWTAuthentication]

    @extend_schema(responses={204: None, **error_responses(404)})
    def delete(self, request: Request, key_id: int) -> Response:
        services.revoke_key(user=request.user, key_id=key_id, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
