// The function app on the Flex Consumption plan (Python 3.11), running as the user-assigned
// identity. Its settings carry names and endpoints only: no connection string with a key, no
// secret (the Partner Center secret is read from Key Vault at run time). The names are the
// ones shared/settings.py reads; tests/unit/test_infra.py checks that they agree.
param planName string
param appName string
param location string
param tags object
param identityId string
param identityClientId string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainer string
param insightsConnectionString string
param vaultUrl string
param secretName string
param partnerCenterTenantId string
param partnerCenterClientId string
param pollSchedule string
@description('NCRONTAB schedule of the sweep that records poison messages as dead letters.')
param deadLetterSchedule string = '30 */1 * * * *'

@description('Upper bound on instances per function; they share one adaptive Partner Center call budget.')
param maximumInstanceCount int = 40

@description('Ceiling of the tenant-wide Partner Center call budget (calls per minute); the budget halves on a 429 and climbs back.')
param partnerCenterRateCeiling int = 600

@description('Where events are forwarded: a JSON list of sinks (webhook or teams), each naming Key Vault secrets for its URL and signing key, never the URL itself.')
param notificationSinks string = '[]'

@description('Share of runs whose traces are kept (0 to 1). Logs and metrics, and so every failure and alert, are never sampled.')
param traceSamplingRatio string = '1.0'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy on Flex needs always-ready instances; losing an instance only redelivers queue messages, which every stage tolerates.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17:Queue- and timer-triggered only: no HTTP endpoints, so no client certificates to require.
  // checkov:skip=CKV_AZURE_222:No HTTP functions listen here; the endpoint stays public only so that azd can deploy without a private network.
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales each function from zero; a cold start only delays a stage, the queues keep the work.
  // checkov:skip=CKV_AZURE_213:No HTTP endpoint to probe; the host's own health and the poison and stall alerts cover failures.
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storageBlobEndpoint
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storageQueueEndpoint
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storageTableEndpoint
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'PC_TENANT_ID'
          value: partnerCenterTenantId
        }
        {
          name: 'PC_CLIENT_ID'
          value: partnerCenterClientId
        }
        {
          name: 'KEY_VAULT_URL'
          value: vaultUrl
        }
        {
          name: 'PC_SECRET_NAME'
          value: secretName
        }
        {
          name: 'VAULT_CREDENTIAL'
          value: 'managed-identity'
        }
        {
          name: 'POLL_SCHEDULE'
          value: pollSchedule
        }
        {
          // Stages wait on Partner Center, not the CPU: as many threads as host.json lets
          // messages run at once per function (batchSize 16 + newBatchThreshold 32).
          name: 'PYTHON_THREADPOOL_THREAD_COUNT'
          value: '48'
        }
        {
          name: 'DEADLETTER_SCHEDULE'
          value: deadLetterSchedule
        }
        {
          name: 'PC_STATUS_POLL_SECONDS'
          value: '60'
        }
        {
          name: 'PC_RATE_LIMIT_PER_MINUTE'
          value: string(partnerCenterRateCeiling)
        }
        {
          name: 'PC_NOTIFY_SINKS'
          value: notificationSinks
        }
        {
          name: 'PC_TRACE_SAMPLING_RATIO'
          value: traceSamplingRatio
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

output name string = app.name
